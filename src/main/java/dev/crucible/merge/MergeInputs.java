package dev.crucible.merge;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.LongFunction;
import java.util.Map;

/**
 * Everything a {@link MergeMethod} needs for one output tensor.
 *
 * @param tensorName   output tensor name (keys random streams and parameter filters)
 * @param models       input model names, parallel to {@code tensors} and {@code modelParameters}
 * @param tensors      input tensors in {@code dtype}, all of one shape; the base model's is among them
 * @param baseIndex    index of the base model in {@code tensors}, or -1 when there is none
 * @param modelParameters   per-model parameter values evaluated for this tensor (gradients and filters resolved,
 *                     defaults filled in)
 * @param globalParameters  global parameter values evaluated for this tensor, defaults filled in
 * @param dtype        the config's {@code dtype}: mergekit rounds every element-wise step to it
 * @param seed         the merge's random seed ({@code --random-seed}); random methods key their streams by
 *                     seed, tensor name and model index so results do not depend on thread count
 * @param outputStorage where a method's output tensor (or scratch) of a given byte size lives; the executor hands
 *                     out a buffer per request that it reuses once the tensor is written, so its contents are
 *                     not zeroed
 */
public record MergeInputs(String tensorName, List<String> models, List<Tensor> tensors, int baseIndex,
                          List<Map<String, Object>> modelParameters, Map<String, Object> globalParameters,
                          DType dtype, long seed, LongFunction<MemorySegment> outputStorage) {
    /** Inputs whose output is a fresh (zeroed) heap tensor. */
    public MergeInputs(String tensorName, List<String> models, List<Tensor> tensors, int baseIndex,
                       List<Map<String, Object>> modelParameters, Map<String, Object> globalParameters,
                       DType dtype, long seed) {
        this(tensorName, models, tensors, baseIndex, modelParameters, globalParameters, dtype, seed,
                Tensor::heapSegment);
    }
}
