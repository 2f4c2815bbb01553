package dev.crucible.merge.methods;

import dev.crucible.CrucibleException;
import dev.crucible.merge.MergeInputs;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchSortOrder;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** One method invocation: typed access to a {@link MergeInputs} with errors naming method, model and tensor. */
final class MethodCall {
    final String method;
    final MergeInputs in;
    final DType dtype;
    final long[] shape;
    final long numel;
    private MemorySegment scratch;

    MethodCall(String method, MergeInputs in) {
        this.method = method;
        this.in = in;
        this.dtype = in.dtype();
        if (in.tensors().isEmpty()) {
            throw new CrucibleException("merge method " + method + ": no input tensors for " + in.tensorName());
        }
        this.shape = in.tensors().get(0).shape();
        for (int i = 1; i < in.tensors().size(); i++) {
            if (!Arrays.equals(shape, in.tensors().get(i).shape())) {
                throw new CrucibleException("merge method " + method + ": tensor " + in.tensorName() + " of "
                        + modelName(i) + " has shape " + Arrays.toString(in.tensors().get(i).shape())
                        + ", expected " + Arrays.toString(shape) + " as in " + modelName(0));
            }
        }
        this.numel = in.tensors().get(0).numel();
    }

    int count() {
        return in.tensors().size();
    }

    Tensor tensor(int i) {
        return in.tensors().get(i);
    }

    String modelName(int i) {
        return i < in.models().size() ? in.models().get(i) : "model #" + i;
    }

    /** Input {@code i} as float32 values (exact: they are already in {@code dtype}). */
    float[] values(int i) {
        return tensor(i).toFloatArray();
    }

    int size() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new CrucibleException("tensor " + in.tensorName() + " has " + numel
                    + " elements, more than merge method " + method + " supports (2^31)");
        }
        return (int) numel;
    }

    int baseIndex() {
        return in.baseIndex();
    }

    int requireBase() {
        if (in.baseIndex() < 0) {
            throw new CrucibleException("merge method " + method + " requires a base_model (tensor "
                    + in.tensorName() + ")");
        }
        return in.baseIndex();
    }

    /** The base's index, for methods that take exactly two models: the base and one other. */
    int requireBaseAndOneOther() {
        int b = requireBase();
        if (count() != 2) {
            throw error("expects exactly two models (the base and one other), got " + count());
        }
        return b;
    }

    /** Indices of the non-base inputs in config order. */
    int[] others() {
        int b = in.baseIndex();
        int[] out = new int[b < 0 ? count() : count() - 1];
        int k = 0;
        for (int i = 0; i < count(); i++) {
            if (i != b) {
                out[k++] = i;
            }
        }
        return out;
    }

    private String modelWhere(int i) {
        return " for model " + modelName(i) + " (tensor " + in.tensorName() + ")";
    }

    private String globalWhere() {
        return " (tensor " + in.tensorName() + ")";
    }

    double modelNumber(int i, String key) {
        return Params.number(method, in.modelParameters().get(i), key, modelWhere(i));
    }

    double modelNumber(int i, String key, double min, double max) {
        return Params.checkRange(method, key, modelNumber(i, key), min, max, modelWhere(i));
    }

    double globalNumber(String key) {
        return Params.number(method, in.globalParameters(), key, globalWhere());
    }

    double globalNumber(String key, double min, double max) {
        return Params.checkRange(method, key, globalNumber(key), min, max, globalWhere());
    }

    boolean globalBool(String key) {
        return Params.bool(method, in.globalParameters(), key, globalWhere());
    }

    int globalInt(String key, int min) {
        int v = Params.integer(method, in.globalParameters(), key, globalWhere());
        Params.checkRange(method, key, v, min, Integer.MAX_VALUE, globalWhere());
        return v;
    }

    CrucibleException error(String message) {
        return new CrucibleException("merge method " + method + ": " + message + " (tensor " + in.tensorName() + ")");
    }

    /** Rounds to the compute dtype. */
    float r(float v) {
        return Rounding.round(dtype, v);
    }

    /** A scalar parameter as torch holds it in a tensor of the compute dtype. */
    float scalar(double v) {
        return Rounding.scalar(dtype, v);
    }

    /** The result in the compute dtype ({@code values} must already be rounded to it). */
    Tensor output(float[] values) {
        return Tensor.fromFloats(dtype, values, shape);
    }

    /**
     * A tensor of this call's shape for results written chunk by chunk; the caller writes every element (the
     * executor's storage is a reused buffer, not zeroed).
     */
    Tensor newOutput(DType outDtype) {
        return new Tensor(outDtype, shape, in.outputStorage().apply(numel * outDtype.byteSize()));
    }

    /**
     * Room for the packed entries of a top-k cut over this tensor, in the executor's reused storage (asked for once
     * per call and shared by every cut of the call, as only one runs at a time).
     */
    TorchSortOrder.Entries sortEntries(boolean descending) {
        if (scratch == null) {
            scratch = in.outputStorage().apply(TorchSortOrder.Entries.bytes(size()));
        }
        return new TorchSortOrder.Entries(scratch, size(), descending);
    }

    Tensor output(DType outDtype, float[] values) {
        return Tensor.fromFloats(outDtype, values, shape);
    }
}
