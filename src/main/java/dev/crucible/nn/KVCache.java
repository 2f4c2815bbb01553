package dev.crucible.nn;

import java.util.Arrays;

/**
 * Keys and values of every layer for a batch of sequences that advance together. Keys are stored transposed, one
 * row of {@link #capacity()} positions per key dimension ({@code width = kvHeads · headDim} rows), so that a block
 * of queries times the keys is a plain GEMM over a head's rows; values keep one row of {@code width} per position,
 * the other operand of the same GEMM. Capacity grows by doubling. The token ids are kept too, so that a model can
 * recompute the cache (longrope's switch to its long factors).
 */
public final class KVCache {
    private final int batch;
    private final int width;
    private final float[][][] keys;   // [layer][sequence][dimension * capacity + position]
    private final float[][][] values; // [layer][sequence][position * width + dimension]
    private final int[][] tokens;     // [sequence][position]
    private int capacity;
    private int length;

    public KVCache(int layers, int batch, int width, int initialCapacity) {
        this.batch = batch;
        this.width = width;
        this.capacity = Math.max(1, initialCapacity);
        this.keys = new float[layers][batch][capacity * width];
        this.values = new float[layers][batch][capacity * width];
        this.tokens = new int[batch][capacity];
    }

    public int batch() {
        return batch;
    }

    public int width() {
        return width;
    }

    /** Positions each key row holds (its stride). */
    public int capacity() {
        return capacity;
    }

    /** Positions already stored (the same for every sequence). */
    public int length() {
        return length;
    }

    /** Makes room for {@code positions} positions in total. */
    public void reserve(int positions) {
        if (positions <= capacity) {
            return;
        }
        int grown = Math.max(positions, capacity * 2);
        for (float[][] layer : keys) {
            for (int b = 0; b < batch; b++) {
                float[] wider = new float[grown * width];
                for (int d = 0; d < width; d++) {
                    System.arraycopy(layer[b], d * capacity, wider, d * grown, capacity);
                }
                layer[b] = wider;
            }
        }
        for (float[][] layer : values) {
            for (int b = 0; b < batch; b++) {
                layer[b] = Arrays.copyOf(layer[b], grown * width);
            }
        }
        for (int b = 0; b < batch; b++) {
            tokens[b] = Arrays.copyOf(tokens[b], grown);
        }
        capacity = grown;
    }

    /** Sequence b's keys of a layer, transposed: dimension d of position j at {@code [d · capacity() + j]}. */
    public float[] keys(int layer, int sequence) {
        return keys[layer][sequence];
    }

    /** Sequence b's values of a layer: dimension d of position j at {@code [j · width() + d]}. */
    public float[] values(int layer, int sequence) {
        return values[layer][sequence];
    }

    /** Stores the key and value rows ({@code width} floats each) of one position. */
    public void put(int layer, int sequence, int position, float[] key, int keyOffset, float[] value, int valueOffset) {
        float[] k = keys[layer][sequence];
        for (int d = 0; d < width; d++) {
            k[d * capacity + position] = key[keyOffset + d];
        }
        System.arraycopy(value, valueOffset, values[layer][sequence], position * width, width);
    }

    /** Records that the positions of {@code added[b]} (one length for all b) were written for every layer. */
    public void advance(int[][] added) {
        int count = added[0].length;
        if (length + count > capacity) {
            throw new IllegalStateException("advance past the reserved capacity");
        }
        for (int b = 0; b < batch; b++) {
            System.arraycopy(added[b], 0, tokens[b], length, count);
        }
        length += count;
    }

    /** The token ids of the stored positions of sequence b. */
    public int[] tokens(int sequence) {
        return Arrays.copyOf(tokens[sequence], length);
    }

    /** Forgets everything after the first {@code positions} positions (e.g. to restart from a shared prompt). */
    public void truncate(int positions) {
        length = Math.min(length, positions);
    }
}
