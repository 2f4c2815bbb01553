package dev.crucible.autograd;

import dev.crucible.tensor.Shape;

/** A trainable float32 tensor and its gradient, both row-major arrays updated in place. */
public final class Parameter {
    private final String name;
    private final long[] shape;
    private final float[] data;
    private final float[] grad;

    public Parameter(String name, float[] data, long... shape) {
        if (Shape.numel(shape) != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values do not fill " + Shape.toString(shape));
        }
        this.name = name;
        this.shape = shape.clone();
        this.data = data;
        this.grad = new float[data.length];
    }

    public String name() {
        return name;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int size() {
        return data.length;
    }

    public float[] data() {
        return data;
    }

    public float[] grad() {
        return grad;
    }

    public void zeroGrad() {
        java.util.Arrays.fill(grad, 0f);
    }

    @Override
    public String toString() {
        return name + Shape.toString(shape);
    }
}
