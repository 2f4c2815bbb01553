package dev.crucible.peft;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A PEFT adapter folded into its base model's tensors as they are read, as PEFT's {@code merge_and_unload} does: the
 * one fold behind {@code crucible lora merge} ({@link LoraMerge}), adapters applied on the fly in a merge
 * ({@code model+adapter}) and {@code generate --adapter}. A targeted module's weight gets {@code scaling·B·A} (DoRA:
 * rescaled to the magnitude; an embedding: {@code (B·A)ᵀ}) through {@link LoraFold}; a {@code modules_to_save}
 * tensor is replaced by the adapter's copy; every other tensor is the base's. Factors are read from the mapped file
 * one module at a time, so no whole adapter is held in memory.
 */
public final class AdapterFold implements AutoCloseable {
    private static final String WEIGHT = ".weight";

    private final AdapterFile file;

    private AdapterFold(AdapterFile file) {
        this.file = file;
    }

    public static AdapterFold open(Path dir) {
        return new AdapterFold(AdapterFile.open(dir));
    }

    public AdapterFile file() {
        return file;
    }

    /** Whether the adapter changes tensor {@code name} of the base (a targeted module's weight or a saved tensor). */
    public boolean changes(String name) {
        return file.savedTensors().containsKey(name) || module(name) != null;
    }

    private AdapterFile.Module module(String tensorName) {
        return tensorName.endsWith(WEIGHT)
                ? file.modules().get(tensorName.substring(0, tensorName.length() - WEIGHT.length())) : null;
    }

    /** See {@link AdapterFile#checkAgainst}. */
    public void checkAgainst(Checkpoint base) {
        file.checkAgainst(base);
    }

    /** Tensor {@code name} of the base with the adapter applied, as float32 values ({@code base}'s shape). */
    public float[] apply(String name, Tensor base) {
        String saved = file.savedTensors().get(name);
        if (saved != null) {
            Tensor copy = file.tensor(saved);
            if (!Arrays.equals(copy.shape(), base.shape())) {
                throw new CrucibleException(file.directory() + ": modules_to_save tensor '" + name + "' is "
                        + Shape.toString(copy.shape()) + ", which does not fit the base's " + base);
            }
            return copy.toFloatArray();
        }
        AdapterFile.Module m = module(name);
        if (m == null) {
            return base.toFloatArray();
        }
        Tensor a = file.tensor(m.a());
        Tensor b = file.tensor(m.b());
        if (!Arrays.equals(base.shape(), file.expectedShape(m))) {
            throw new CrucibleException(file.directory() + ": LoRA for '" + name + "' has A " + a + " and B " + b
                    + ", which do not fit the weight " + base);
        }
        float[] w = base.toFloatArray();
        float[] magnitude = m.magnitude() == null ? null : file.tensor(m.magnitude()).toFloatArray();
        int r = (int) a.dim(0);
        if (m.embedding()) {
            // PEFT's Embedding delta is (B·A)ᵀ: B·A is [hidden, vocab], laid over the weight [vocab, hidden]
            LoraFold.foldInto(w, (int) b.dim(0), (int) a.dim(1), r, m.scaling(), a.toFloatArray(), b.toFloatArray(),
                    null, true);
        } else {
            LoraFold.foldInto(w, (int) b.dim(0), (int) a.dim(1), r, m.scaling(), a.toFloatArray(), b.toFloatArray(),
                    magnitude, false);
        }
        return w;
    }

    /**
     * Tensor {@code name} of the merged model in {@code dtype}: the adapter's fold or copy where it changes the
     * tensor, else the base's tensor (converted when its dtype differs).
     */
    public Tensor merged(String name, Tensor base, DType dtype) {
        if (!changes(name)) {
            return base.dtype() == dtype ? base : base.to(dtype);
        }
        return Tensor.fromFloats(dtype, apply(name, base), base.shape());
    }

    @Override
    public void close() {
        file.close();
    }
}
