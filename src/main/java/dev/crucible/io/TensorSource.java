package dev.crucible.io;

import dev.crucible.tensor.BlockMatrix;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.Collection;

/**
 * Named weight tensors under Hugging Face names, where the runtime loads a model from: a safetensors
 * {@link Checkpoint}, or a GGUF file seen through {@code gguf.GgufModel}.
 */
public interface TensorSource {
    /** Where the tensors come from, for error messages. */
    Path directory();

    Collection<String> names();

    boolean contains(String name);

    Tensor tensor(String name);

    /**
     * The 2-D tensor {@code name} as ggml blocks that {@code tensor.Gemm} multiplies in place, when it is stored so
     * (a GGUF file's quantised weight); null otherwise, and then {@link #tensor} gives its values.
     */
    default BlockMatrix blocks(String name) {
        return null;
    }
}
