package dev.crucible.gguf;

import dev.crucible.CrucibleException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes one GGUF v3 file through a temporary sibling that is renamed over the target only once every tensor
 * is written ({@link #finish}); closing an unfinished writer deletes the sibling. The layout is the one both
 * reference writers produce: header, metadata, tensor infos, zero padding to the alignment, then each tensor's
 * data padded to the alignment. Tensors are declared up front, so their offsets are known and their data may be
 * written in any order from any thread.
 */
public final class GgufWriter implements AutoCloseable {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    static final int VERSION = 3;
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicLong COUNTER = new java.util.concurrent.atomic.AtomicLong();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(p -> {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort on exit
            }
        })));
    }

    /** A tensor to declare: name, ggml-order dims, type. */
    public record Tensor(String name, long[] dims, GgmlType type) {
        public long bytes() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return type.bytes(n);
        }
    }

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final Map<String, GgufTensorInfo> infos = new LinkedHashMap<>();
    private final Map<String, Integer> index = new LinkedHashMap<>();
    private final BitSet written = new BitSet();
    private final long dataStart;
    private final long fileSize;
    private boolean finished;

    private GgufWriter(Path target, Path temp, FileChannel channel, List<GgufTensorInfo> tensors, long dataStart,
                       long fileSize) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        for (GgufTensorInfo t : tensors) {
            index.put(t.name(), infos.size());
            infos.put(t.name(), t);
        }
        this.dataStart = dataStart;
        this.fileSize = fileSize;
    }

    /** Creates the temporary sibling of {@code target} and writes everything but the tensor data. */
    public static GgufWriter create(Path target, GgufMetadata metadata, List<Tensor> tensors) {
        int alignment = metadata.alignment();
        List<GgufTensorInfo> infos = new ArrayList<>();
        long offset = 0;
        for (Tensor t : tensors) {
            if (t.type().isQuantized() && t.dims()[0] % t.type().blockSize != 0) {
                throw new IllegalArgumentException(t.name() + ": row of " + t.dims()[0] + " is not a multiple of "
                        + t.type() + "'s block of " + t.type().blockSize);
            }
            infos.add(new GgufTensorInfo(t.name(), t.dims(), t.type(), offset));
            offset += pad(t.bytes(), alignment);
        }
        byte[] head = encodeHead(metadata, infos);
        long dataStart = pad(head.length, alignment);
        Path abs = target.toAbsolutePath().normalize();
        Path temp = null;
        try {
            Files.createDirectories(abs.getParent());
            // createFile, not createTempFile: the file gets the umask's mode (0644 usually), not 0600
            temp = abs.resolveSibling("." + abs.getFileName() + ".crucible-tmp-" + ProcessHandle.current().pid() + "-"
                    + COUNTER.incrementAndGet());
            Files.createFile(temp);
            OPEN.add(temp);
            FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            ch.write(ByteBuffer.wrap(head), 0);
            // zero padding between header and data and after each tensor: extend the file; unwritten bytes read 0
            ch.truncate(dataStart + offset);
            if (ch.size() < dataStart + offset) {
                ch.write(ByteBuffer.allocate(1), dataStart + offset - 1);
            }
            return new GgufWriter(abs, temp, ch, infos, dataStart, dataStart + offset);
        } catch (IOException e) {
            if (temp != null) {
                OPEN.remove(temp);
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // reported below
                }
            }
            throw new CrucibleException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    static long pad(long n, int alignment) {
        return (n + alignment - 1) / alignment * alignment;
    }

    public Map<String, GgufTensorInfo> tensors() {
        return infos;
    }

    public Path target() {
        return target;
    }

    /** Bytes the finished file will have. */
    public long fileSize() {
        return fileSize;
    }

    /** Writes {@code data} at {@code byteOffset} inside tensor {@code name}; thread-safe. */
    public void write(String name, long byteOffset, MemorySegment data) {
        GgufTensorInfo t = infos.get(name);
        if (t == null) {
            throw new IllegalArgumentException("undeclared tensor " + name);
        }
        if (byteOffset < 0 || byteOffset + data.byteSize() > t.bytes()) {
            throw new IllegalArgumentException(name + ": write of " + data.byteSize() + " bytes at " + byteOffset
                    + " overruns its " + t.bytes() + " bytes");
        }
        // a heap segment over float[] etc. has no ByteBuffer view; its native order is little-endian here
        boolean viewable = data.isNative() || data.heapBase().map(b -> b instanceof byte[]).orElse(false);
        ByteBuffer buf = viewable ? data.asByteBuffer() : ByteBuffer.wrap(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        long pos = dataStart + t.offset() + byteOffset;
        try {
            while (buf.hasRemaining()) {
                pos += channel.write(buf, pos);
            }
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot write: " + e.getMessage(), e);
        }
        if (byteOffset + data.byteSize() == t.bytes()) {
            synchronized (written) {
                written.set(index.get(name));
            }
        }
    }

    /** Writes a whole tensor. */
    public void write(String name, MemorySegment data) {
        GgufTensorInfo t = infos.get(name);
        if (t != null && data.byteSize() != t.bytes()) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for a tensor of " + t.bytes());
        }
        write(name, 0, data);
    }

    /** Checks that every tensor was written to its end, optionally forces the data to disk, renames into place. */
    public void finish(boolean fsync) {
        synchronized (written) {
            if (written.cardinality() != infos.size()) {
                String missing = infos.keySet().stream().filter(n -> !written.get(index.get(n))).findFirst().orElse("?");
                throw new IllegalStateException(target + ": tensor " + missing + " was never written");
            }
        }
        try {
            if (fsync) {
                channel.force(true);
            }
            channel.close();
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            OPEN.remove(temp);
            finished = true;
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot publish: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (finished) {
            return;
        }
        try {
            channel.close();
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // a leftover hidden temp file is harmless and named for what it is
        }
        OPEN.remove(temp);
    }

    // ------------------------------------------------------------------------------------------- encoding

    static byte[] encodeHead(GgufMetadata metadata, List<GgufTensorInfo> tensors) {
        Encoder e = new Encoder();
        e.u32(MAGIC);
        e.u32(VERSION);
        e.u64(tensors.size());
        e.u64(metadata.size());
        for (Map.Entry<String, GgufValue> kv : metadata.entries().entrySet()) {
            e.string(kv.getKey());
            e.u32(kv.getValue().type().id);
            e.value(kv.getValue());
        }
        for (GgufTensorInfo t : tensors) {
            e.string(t.name());
            e.u32(t.dims().length);
            for (long d : t.dims()) {
                e.u64(d);
            }
            e.u32(t.type().id);
            e.u64(t.offset());
        }
        return e.bytes();
    }

    private static final class Encoder {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 16);
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void u32(long v) {
            scratch.clear();
            scratch.putInt((int) v);
            out.write(scratch.array(), 0, 4);
        }

        void u64(long v) {
            scratch.clear();
            scratch.putLong(v);
            out.write(scratch.array(), 0, 8);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.write(b, 0, b.length);
        }

        void scalar(GgufValueType type, Object v) {
            switch (type) {
                case UINT8, INT8 -> out.write((int) (long) (Long) v);
                case UINT16, INT16 -> {
                    long x = (Long) v;
                    out.write((int) x & 0xFF);
                    out.write((int) (x >>> 8) & 0xFF);
                }
                case UINT32, INT32 -> u32((Long) v);
                case UINT64, INT64 -> u64((Long) v);
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) v));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) v));
                case BOOL -> out.write((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> throw new IllegalArgumentException("nested array");
            }
        }

        void value(GgufValue v) {
            if (!v.isArray()) {
                scalar(v.type(), v.value());
                return;
            }
            GgufValueType et = v.elementType();
            u32(et.id);
            u64(v.length());
            switch (v.value()) {
                case String[] a -> {
                    for (String s : a) {
                        string(s);
                    }
                }
                case float[] a -> {
                    for (float f : a) {
                        u32(Float.floatToRawIntBits(f));
                    }
                }
                case double[] a -> {
                    for (double d : a) {
                        u64(Double.doubleToRawLongBits(d));
                    }
                }
                case boolean[] a -> {
                    for (boolean b : a) {
                        out.write(b ? 1 : 0);
                    }
                }
                case long[] a -> {
                    for (long x : a) {
                        scalar(et, x);
                    }
                }
                default -> throw new IllegalArgumentException("array value " + v.value().getClass());
            }
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
