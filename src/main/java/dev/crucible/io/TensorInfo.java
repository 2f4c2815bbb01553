package dev.crucible.io;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;

/** One entry of a safetensors header: where a tensor's bytes lie, relative to the start of the data section. */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
    public long numel() {
        return Shape.numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }
}
