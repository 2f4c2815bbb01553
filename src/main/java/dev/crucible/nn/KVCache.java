package dev.crucible.nn;

import java.util.Arrays;

/**
 * Keys and values of every layer for a batch of sequences that advance together. Rows are positions; a row
 * holds all key/value heads ({@code width = kvHeads · headDim}). Capacity grows by doubling. The token ids
 * are kept too, so that a model can recompute the cache (longrope's switch to its long factors).
 */
public final class KVCache {
    private final int batch;
    private final int width;
    private final float[][][] keys;   // [layer][sequence][position * width]
    private final float[][][] values;
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
        for (float[][][] store : new float[][][][] {keys, values}) {
            for (float[][] layer : store) {
                for (int b = 0; b < batch; b++) {
                    layer[b] = Arrays.copyOf(layer[b], grown * width);
                }
            }
        }
        for (int b = 0; b < batch; b++) {
            tokens[b] = Arrays.copyOf(tokens[b], grown);
        }
        capacity = grown;
    }

    public float[] keys(int layer, int sequence) {
        return keys[layer][sequence];
    }

    public float[] values(int layer, int sequence) {
        return values[layer][sequence];
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
