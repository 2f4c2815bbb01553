package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.arch.Architecture;
import dev.crucible.peft.AdapterFold;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.FileRegion;
import dev.crucible.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** One model a merge reads: its directory, config, memory-mapped weights and optional on-the-fly LoRA. */
public final class InputModel implements AutoCloseable {
    private final ModelRef ref;
    private final ModelDirectory directory;
    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final AdapterFold lora;
    private final DType loraDtype;
    private final Architecture architecture;

    private InputModel(ModelRef ref, ModelDirectory directory, ModelConfig config, Checkpoint checkpoint,
                       AdapterFold lora, DType loraDtype, Architecture architecture) {
        this.ref = ref;
        this.directory = directory;
        this.config = config;
        this.checkpoint = checkpoint;
        this.lora = lora;
        this.loraDtype = loraDtype;
        this.architecture = architecture;
    }

    public static InputModel open(ModelRef ref) {
        return open(ref, null);
    }

    /** @param loraDtype dtype the adapter's fold is rounded to before any other conversion; null: straight to the load dtype */
    public static InputModel open(ModelRef ref, DType loraDtype) {
        ModelDirectory dir = ModelDirectory.open(ref.path());
        ModelConfig config = dir.config();
        Checkpoint ckpt = dir.openCheckpoint();
        AdapterFold lora = null;
        try {
            Architecture arch = Architecture.ofOrInfer(config, ckpt.names());
            lora = ref.lora() == null ? null : AdapterFold.open(ref.lora());
            if (lora != null) {
                lora.checkAgainst(ckpt);
                if (lora.file().leftOutWarning() != null) {
                    System.err.println(lora.file().leftOutWarning());
                }
            }
            return new InputModel(ref, dir, config, ckpt, lora, loraDtype, arch);
        } catch (CrucibleException e) {
            ckpt.close();
            if (lora != null) {
                lora.close();
            }
            throw new CrucibleException(ref + ": " + e.getMessage(), e);
        }
    }

    public ModelRef ref() {
        return ref;
    }

    public ModelDirectory directory() {
        return directory;
    }

    public ModelConfig config() {
        return config;
    }

    public Architecture architecture() {
        return architecture;
    }

    public boolean has(String name) {
        return checkpoint.contains(name);
    }

    public TensorInfo info(String name) {
        return checkpoint.info(name);
    }

    /** Bytes this model contributes when {@code name} is read. */
    public long bytes(String name) {
        return checkpoint.info(name).byteSize();
    }

    /**
     * Tensor {@code name} in {@code dtype}: a zero-copy view of the mapped file when no conversion or adapter is
     * involved (its float reads use positional reads of the file: a merge reads each byte once or a few times, and
     * first-touch page faults on the mapping cost several times more), else a heap copy.
     */
    public Tensor load(String name, DType dtype) {
        Tensor raw = checkpoint.tensor(name);
        if (lora != null && lora.changes(name)) {
            float[] folded = lora.apply(name, raw);
            return loraDtype == null || loraDtype == dtype ? Tensor.fromFloats(dtype, folded, raw.shape())
                    : Tensor.fromFloats(loraDtype, folded, raw.shape()).to(dtype);
        }
        return raw.dtype() == dtype ? raw.readingFrom(checkpoint.region(name)) : raw.to(dtype);
    }

    /** Whether {@link #load} of {@code name} in {@code dtype} makes a heap copy (conversion or adapter). */
    public boolean loadCopies(String name, DType dtype) {
        return (lora != null && lora.changes(name)) || checkpoint.info(name).dtype() != dtype;
    }

    /**
     * Bytes of {@code name} whose file pages are not in the page cache now (the real merge reads them from disk),
     * counted in slices of {@code slice} bytes, a slice with any page missing counted whole; 0 for a tensor not mapped.
     */
    public long uncachedBytes(String name, long slice) {
        return uncachedBytes(name, 0, Long.MAX_VALUE, slice);
    }

    /** {@link #uncachedBytes(String, long)} of the first {@code length} bytes of {@code name} from {@code offset}. */
    public long uncachedBytes(String name, long offset, long length, long slice) {
        MemorySegment seg = checkpoint.tensor(name).data();
        if (!seg.isMapped()) {
            return 0;
        }
        long end = offset + Math.min(length, seg.byteSize() - offset);
        long uncached = 0;
        for (long off = offset; off < end; off += slice) {
            MemorySegment part = seg.asSlice(off, Math.min(slice, end - off));
            if (!part.isLoaded()) { // mincore(2): asks the page cache, faults nothing in
                uncached += part.byteSize();
            }
        }
        return uncached;
    }

    /** Where {@code name}'s bytes lie in its file (for positional reads). */
    public FileRegion region(String name) {
        return checkpoint.region(name);
    }

    /** Drops the mapped pages of {@code name} from this process's resident set (they stay in the page cache). */
    public void release(String name) {
        MemorySegment seg = checkpoint.tensor(name).data();
        if (seg.isMapped()) {
            seg.unload();
        }
    }

    @Override
    public void close() {
        checkpoint.close();
        if (lora != null) {
            lora.close();
        }
    }
}
