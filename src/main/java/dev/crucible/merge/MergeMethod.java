package dev.crucible.merge;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.util.Map;

/**
 * One mergekit merge method. It sees the aligned input tensors of one output tensor (same shape, already
 * converted to the config's {@code dtype}) and returns the merged tensor. Methods are stateless and called
 * from many threads at once.
 */
public interface MergeMethod {
    /** How a method uses {@code base_model}. */
    enum BaseModelUse { REQUIRED, OPTIONAL, UNUSED }

    /** The name used in mergekit configs ({@code merge_method: ties}). */
    String name();

    BaseModelUse baseModelUse();

    /**
     * Parameters given once for the whole merge (top-level {@code parameters}), with their defaults;
     * a null default marks a required parameter.
     */
    Map<String, Object> globalParameters();

    /** Parameters given per input model ({@code models[i].parameters}), with defaults; null = required. */
    Map<String, Object> modelParameters();

    /** Merges one tensor. */
    Tensor merge(MergeInputs inputs);

    /**
     * An upper bound of the memory merging one tensor of {@code numel} elements needs besides its inputs (already
     * in {@code dtype}): the executor's in-flight budget counts it. The default assumes whole-tensor float32 copies
     * of every input plus scratch and the output; methods that stream in chunks need little more than the output.
     */
    default long workingBytes(long numel, int inputs, DType dtype) {
        return numel * (4L * (inputs + 2) + dtype.byteSize());
    }
}
