package dev.crucible.io;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;

/** What a writer must know of a tensor before its data exists: name, dtype and shape. */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public long byteSize() {
        return Shape.numel(shape) * dtype.byteSize();
    }
}
