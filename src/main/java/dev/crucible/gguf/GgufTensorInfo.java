package dev.crucible.gguf;

/**
 * One tensor of a GGUF file: its name, its dimensions in ggml order ({@code dims[0]} is the row length, the
 * reverse of the PyTorch shape), its type and its byte offset from the start of the data section.
 */
public record GgufTensorInfo(String name, long[] dims, GgmlType type, long offset) {
    public long elements() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    public long bytes() {
        return type.bytes(elements());
    }

    /** Values per row (ggml's ne[0]). */
    public long rowLength() {
        return dims.length == 0 ? 1 : dims[0];
    }

    public long rows() {
        return dims.length == 0 ? 1 : elements() / dims[0];
    }

    /** The PyTorch-order shape (dims reversed). */
    public long[] shape() {
        long[] s = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            s[i] = dims[dims.length - 1 - i];
        }
        return s;
    }

    /** ggml's dims from a PyTorch-order shape. */
    public static long[] dimsOf(long[] shape) {
        long[] d = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            d[i] = shape[shape.length - 1 - i];
        }
        return d;
    }

    public String shapeString() {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < dims.length; i++) {
            b.append(i == 0 ? "" : ", ").append(dims[i]);
        }
        return b.append('}').toString();
    }
}
