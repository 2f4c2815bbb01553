package dev.crucible.merge.methods;

import dev.crucible.merge.MergeInputs;
import dev.crucible.merge.MergeMethod;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Name, base-model use and parameter declarations shared by all methods; subclasses implement the math. */
abstract class AbstractMergeMethod implements MergeMethod {
    private final String name;
    private final BaseModelUse baseModelUse;
    private final Map<String, Object> globalParameters;
    private final Map<String, Object> modelParameters;

    AbstractMergeMethod(String name, BaseModelUse baseModelUse, Map<String, Object> globalParameters,
                        Map<String, Object> modelParameters) {
        this.name = name;
        this.baseModelUse = baseModelUse;
        this.globalParameters = Collections.unmodifiableMap(new LinkedHashMap<>(globalParameters));
        this.modelParameters = Collections.unmodifiableMap(new LinkedHashMap<>(modelParameters));
    }

    /** Parameter declarations in order; {@code null} values (required) are allowed, unlike {@link Map#of}. */
    static Map<String, Object> params(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final BaseModelUse baseModelUse() {
        return baseModelUse;
    }

    @Override
    public final Map<String, Object> globalParameters() {
        return globalParameters;
    }

    @Override
    public final Map<String, Object> modelParameters() {
        return modelParameters;
    }

    @Override
    public final Tensor merge(MergeInputs inputs) {
        return merge(new MethodCall(name, inputs));
    }

    abstract Tensor merge(MethodCall call);

    /** {@link #workingBytes} of a method that streams in chunks: its output (in the compute dtype) and chunk buffers. */
    static long streamingBytes(long numel, int inputs, DType dtype) {
        return numel * dtype.byteSize() + (inputs + 4L) * 4 * StreamingTaskArithmetic.CHUNK;
    }

    @Override
    public String toString() {
        return name;
    }
}
