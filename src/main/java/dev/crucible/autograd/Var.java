package dev.crucible.autograd;

import java.util.Arrays;

/**
 * A value on the tape: a row-major float32 array with its shape and, when it needs one, a gradient of the same
 * size. A {@link Parameter}'s Var shares the parameter's arrays, so backward accumulates straight into
 * {@code Parameter.grad()}.
 */
public final class Var {
    /** Null once {@link #releaseValue} dropped it. */
    private float[] value;
    private final int size;
    private final int[] shape;
    private final boolean requiresGrad;
    private float[] grad;

    public Var(float[] value, boolean requiresGrad, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n != value.length) {
            throw new IllegalArgumentException(value.length + " values do not fill " + Arrays.toString(shape));
        }
        this.value = value;
        this.size = value.length;
        this.shape = shape.clone();
        this.requiresGrad = requiresGrad;
    }

    /** A constant: no gradient is kept for it (frozen weights, inputs). */
    public static Var constant(float[] value, int... shape) {
        return new Var(value, false, shape);
    }

    /** A trainable leaf whose gradient accumulates into {@code p.grad()}. */
    public static Var of(Parameter p) {
        long[] s = p.shape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            shape[i] = Math.toIntExact(s[i]);
        }
        Var v = new Var(p.data(), true, shape);
        v.grad = p.grad();
        return v;
    }

    /** A leaf that keeps its own gradient (for tests and inputs whose gradient is wanted). */
    public static Var leaf(float[] value, int... shape) {
        return new Var(value, true, shape);
    }

    public float[] value() {
        if (value == null) {
            throw new IllegalStateException("the values of this intermediate were released");
        }
        return value;
    }

    /**
     * Drops the values of an intermediate that no backward step reads (a projection whose only reader is a residual
     * add: neither op's backward needs it), so that they are not held until backward; the gradient still works.
     */
    public void releaseValue() {
        value = null;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int size() {
        return size;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** The gradient, allocated (zeroed) on first use. */
    public float[] grad() {
        if (grad == null) {
            grad = new float[size];
        }
        return grad;
    }

    public boolean hasGrad() {
        return grad != null;
    }
}
