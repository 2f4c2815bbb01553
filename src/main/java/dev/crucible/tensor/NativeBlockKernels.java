package dev.crucible.tensor;

import dev.crucible.Failures;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The native k-quant dot products (src/main/c/block_kernels.c, built into the jar when a C compiler is present),
 * called through the FFM API. They multiply {@link Int8Activations} (activations rounded to 8 bits, as llama.cpp
 * does) with Q4_K, Q5_K, Q6_K and Q8_0 blocks, 4 byte products per instruction (AVX-512 VNNI, AVX-VNNI or AVX2): the Vector
 * API has no such instruction, and the float kernels of {@link GemmBlockKernel} it allows run q4_k_m decode at a
 * third of llama.cpp's speed (docs/BENCHMARKS.md, GGUF decode). Every instruction set gives the same bits.
 *
 * <p>The library is optional: without it (no compiler at build time, another OS or CPU) or with
 * {@code -Dcrucible.native.kernels=off}, every format runs on the Java kernels. {@code -Dcrucible.native.kernels=avx2}
 * (or {@code avxvnni}, {@code avx512vnni}) picks an instruction set the CPU has instead of the best. {@link #status}
 * says which is in use and why. The merge path never loads it.
 */
final class NativeBlockKernels {
    /** The library's functions' version this class calls (crucible_block_kernels_version). */
    private static final int VERSION = 4;
    private static final String RESOURCE = "/native/linux-x86_64/libcrucible_blocks.so";
    /** Activation rows per native call (prefill cuts its rows into calls of at most this many). */
    static final int CALL_ROWS = 64;

    /** An instruction set the library has a variant for, with its bit in crucible_cpu_features; best first. */
    enum Isa {
        AVX512VNNI(4), AVXVNNI(2), AVX2(1);

        final int feature;

        Isa(int feature) {
            this.feature = feature;
        }

        String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One variant's kernels. */
    record Variant(Isa isa, MethodHandle q4k, MethodHandle q5k, MethodHandle q6k, MethodHandle q80) {
    }

    private static final FunctionDescriptor KERNEL = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);

    /** Every variant this CPU runs, best first (empty without the library). */
    private static final List<Variant> VARIANTS = new ArrayList<>();
    private static final Variant CHOSEN;
    private static final String STATUS;

    static {
        String why = load();
        String wanted = System.getProperty("crucible.native.kernels", "").trim().toLowerCase(Locale.ROOT);
        Variant chosen = null;
        if (why == null) {
            if (wanted.equals("off")) {
                why = "turned off (-Dcrucible.native.kernels=off)";
            } else if (VARIANTS.isEmpty()) {
                why = "this CPU lacks AVX2, FMA or F16C";
            } else if (wanted.isEmpty()) {
                chosen = VARIANTS.getFirst();
            } else {
                chosen = VARIANTS.stream().filter(v -> v.isa().cliName().equals(wanted)).findFirst().orElse(null);
                if (chosen == null) {
                    why = "-Dcrucible.native.kernels=" + wanted + " is not one this CPU runs ("
                            + String.join(", ", VARIANTS.stream().map(v -> v.isa().cliName()).toList()) + ", off)";
                }
            }
        }
        CHOSEN = chosen;
        STATUS = chosen != null
                ? "native " + chosen.isa().cliName() + " kernels for Q4_K, Q5_K, Q6_K and Q8_0 (8-bit activations)"
                : "Java kernels only: " + why;
    }

    private NativeBlockKernels() {
    }

    /** Loads the library and fills {@link #VARIANTS}; returns why it could not, or null. */
    private static String load() {
        if (!GemmBlockKernel.supported()) {
            return "this machine's vectors do not suit the block kernels";
        }
        URL url = NativeBlockKernels.class.getResource(RESOURCE);
        if (url == null) {
            return "no native library in this build (built without a C compiler, or not on Linux x86-64)";
        }
        try {
            SymbolLookup lib = lookup(url);
            Linker linker = Linker.nativeLinker();
            MethodHandle version = linker.downcallHandle(lib.findOrThrow("crucible_block_kernels_version"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            int v = (int) version.invokeExact();
            if (v != VERSION) {
                return "the native library is version " + v + ", this code calls version " + VERSION;
            }
            int features = (int) linker.downcallHandle(lib.findOrThrow("crucible_cpu_features"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT)).invokeExact();
            // critical: no thread-state transition per call (a decode step makes thousands), and the activations and
            // outputs are passed as Java arrays, not copied
            Linker.Option critical = Linker.Option.critical(true);
            for (Isa isa : Isa.values()) {
                if ((features & isa.feature) != 0) {
                    VARIANTS.add(new Variant(isa,
                            linker.downcallHandle(lib.findOrThrow("crucible_q4_k_" + isa.cliName()), KERNEL, critical),
                            linker.downcallHandle(lib.findOrThrow("crucible_q5_k_" + isa.cliName()), KERNEL, critical),
                            linker.downcallHandle(lib.findOrThrow("crucible_q6_k_" + isa.cliName()), KERNEL, critical),
                            linker.downcallHandle(lib.findOrThrow("crucible_q8_0_" + isa.cliName()), KERNEL, critical)));
                }
            }
            return null;
        } catch (Throwable t) { // a broken or foreign library must not stop inference: the Java kernels remain
            return "the native library did not load (" + t + ")";
        }
    }

    /**
     * The library from the classes directory as it is, or copied out of the jar to a temporary file, loaded, and
     * deleted at once (the loaded mapping stays; nothing is left behind, even if the JVM is killed).
     */
    private static SymbolLookup lookup(URL url) throws IOException, URISyntaxException {
        if (url.getProtocol().equals("file")) {
            return SymbolLookup.libraryLookup(Path.of(url.toURI()), Arena.global());
        }
        Path copy = Files.createTempFile("crucible-blocks", ".so");
        try {
            try (InputStream in = url.openStream()) {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            }
            return SymbolLookup.libraryLookup(copy, Arena.global());
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    /** Which kernels GGUF inference runs on, and why not the native ones where it does not. */
    static String status() {
        return STATUS;
    }

    /** Whether the chosen native kernels multiply {@code f}. */
    static boolean handles(BlockFormat f) {
        return CHOSEN != null && (f == BlockFormat.Q4_K || f == BlockFormat.Q5_K || f == BlockFormat.Q6_K
                || f == BlockFormat.Q8_0);
    }

    /** Values per activation scale that {@code f}'s kernel takes ({@link Int8Activations}): 32 for Q8_0, else 256. */
    static int roundingBlock(BlockFormat f) {
        return f == BlockFormat.Q8_0 ? 32 : 256;
    }

    /** The variants this CPU runs, best first (for tests: all give the same bits). */
    static List<Variant> variants() {
        return List.copyOf(VARIANTS);
    }

    /**
     * {@code out[outOff + r · outStride + j] = row j · x_r} for the {@code rows} rows of {@code f} blocks at byte
     * {@code off} of {@code w} and the m activation rows of {@code x}: exactly the dequantised rows times the rounded
     * activations, up to the float sums' order.
     */
    static void rows(BlockFormat f, MemorySegment w, long off, int rows, int cols, Int8Activations x, int m,
                     float[] out, int outOff, int outStride) {
        rows(CHOSEN, f, w, off, rows, cols, x, m, out, outOff, outStride);
    }

    /** As {@link #rows(BlockFormat, MemorySegment, long, int, int, Int8Activations, int, float[], int, int)}, on {@code v}. */
    static void rows(Variant v, BlockFormat f, MemorySegment w, long off, int rows, int cols, Int8Activations x, int m,
                     float[] out, int outOff, int outStride) {
        long rowBytes = f.rowBytes(cols);
        Objects.checkFromIndexSize(off, rows * rowBytes, w.byteSize());
        Objects.checkFromIndexSize(0, m * cols, x.q().length);
        if (rows == 0 || m == 0) {
            return;
        }
        Objects.checkFromIndexSize(outOff, (m - 1) * outStride + rows, out.length);
        MemorySegment blocks = w.asSlice(off);
        MemorySegment q = MemorySegment.ofArray(x.q());
        MemorySegment scales = MemorySegment.ofArray(x.scales());
        MemorySegment result = MemorySegment.ofArray(out);
        MethodHandle kernel;
        MemorySegment sums;
        long sumsBytesPerRow;
        if (f == BlockFormat.Q4_K || f == BlockFormat.Q5_K) {
            kernel = f == BlockFormat.Q4_K ? v.q4k() : v.q5k();
            sums = MemorySegment.ofArray(x.sums32());
            sumsBytesPerRow = 4L * (cols / 32);
        } else if (f == BlockFormat.Q6_K) {
            kernel = v.q6k();
            sums = MemorySegment.ofArray(x.sums16());
            sumsBytesPerRow = 2L * (cols / 16);
        } else if (f == BlockFormat.Q8_0) {
            kernel = v.q80();
            sums = MemorySegment.NULL; // Q8_0 has no minimum or offset
            sumsBytesPerRow = 0;
        } else {
            throw new IllegalArgumentException("no native kernel for " + f);
        }
        Objects.checkFromIndexSize(0, (long) m * (cols / roundingBlock(f)), x.scales().length);
        Objects.checkFromIndexSize(0, m * sumsBytesPerRow, sums.byteSize());
        try {
            // a critical call holds off the garbage collector until it returns: a bounded number of activation rows
            // per call keeps that short in a long prefill (the outputs are the same however the rows are cut)
            for (int r0 = 0; r0 < m; r0 += CALL_ROWS) {
                int n = Math.min(CALL_ROWS, m - r0);
                kernel.invokeExact(blocks, rowBytes, rows, cols, q.asSlice((long) r0 * cols),
                        scales.asSlice(4L * r0 * (cols / roundingBlock(f))), sums.asSlice(r0 * sumsBytesPerRow), n,
                        result.asSlice(4L * (outOff + (long) r0 * outStride)), outStride);
            }
        } catch (Throwable t) { // invokeExact declares Throwable
            throw Failures.unchecked(t);
        }
    }
}
