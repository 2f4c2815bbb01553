package dev.crucible.tensor;

import java.util.Arrays;

/**
 * A weight matrix stored in bitsandbytes' NF4 format, as QLoRA freezes its base: the flattened values in blocks of
 * 64, each block scaled by its absolute maximum and rounded to the nearest of 16 levels (the quantiles of a
 * normal distribution), two 4-bit codes per byte with the first element in the high nibble. With double
 * quantisation the float32 block scales are themselves stored in 8 bits: their mean is subtracted, and the
 * remainders are quantised in blocks of 256 with bitsandbytes' signed dynamic 8-bit map and one float32 scale
 * per block. That costs about 0.516 bytes per weight against 2 for bf16.
 */
public final class Nf4Weight {
    public static final int BLOCK = 64;
    public static final int SCALE_BLOCK = 256;

    /** bitsandbytes' NF4 levels ({@code get_4bit_type("nf4")}); sorted, index 7 is exactly zero. */
    static final float[] LEVELS = {
            -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

    /** bitsandbytes' signed dynamic 8-bit map ({@code create_dynamic_map(signed=True)}), sorted. */
    static final float[] DYNAMIC_MAP = dynamicMap();

    /** For each byte value, the levels of its high and low nibble: element 2b and 2b + 1. */
    private static final float[] PAIR_LEVELS = pairLevels();

    private static final int DYNAMIC_ZERO = Arrays.binarySearch(DYNAMIC_MAP, 0f);

    private final int rows;
    private final int cols;
    private final byte[] packed;
    /** Block scales as float32, when not double-quantised; else null. */
    private final float[] absmax;
    /** Double quantisation: 8-bit codes of (absmax - offset), one float32 scale per 256 codes, and the offset. */
    private final byte[] quantizedAbsmax;
    private final float[] absmaxScales;
    private final float absmaxOffset;

    private Nf4Weight(int rows, int cols, byte[] packed, float[] absmax, byte[] quantizedAbsmax, float[] absmaxScales,
                      float absmaxOffset) {
        this.rows = rows;
        this.cols = cols;
        this.packed = packed;
        this.absmax = absmax;
        this.quantizedAbsmax = quantizedAbsmax;
        this.absmaxScales = absmaxScales;
        this.absmaxOffset = absmaxOffset;
    }

    /** The NF4 levels, a copy. */
    public static float[] levels() {
        return LEVELS.clone();
    }

    /** The signed dynamic 8-bit map used for double quantisation, a copy. */
    public static float[] dynamicMap8() {
        return DYNAMIC_MAP.clone();
    }

    /**
     * Quantises a [rows, cols] row-major matrix as {@code bitsandbytes.functional.quantize_4bit(quant_type="nf4",
     * blocksize=64, compress_statistics=doubleQuant)} does. An all-zero block gets scale 0 and the zero level.
     */
    public static Nf4Weight quantize(float[] values, int rows, int cols, boolean doubleQuant) {
        long n = (long) rows * cols;
        if (values.length != n) {
            throw new IllegalArgumentException(values.length + " values do not fill [" + rows + ", " + cols + "]");
        }
        int blocks = (int) ((n + BLOCK - 1) / BLOCK);
        float[] scales = new float[blocks];
        byte[] packed = new byte[(int) ((n + 1) / 2)];
        for (int b = 0; b < blocks; b++) {
            int from = b * BLOCK;
            int to = (int) Math.min(n, from + BLOCK);
            float max = 0;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(values[i]));
            }
            scales[b] = max;
            float inv = 1f / max;
            for (int i = from; i < to; i++) {
                int code = max == 0 ? 7 : nearest(LEVELS, Math.clamp(values[i] * inv, -1f, 1f));
                packed[i >> 1] |= (byte) ((i & 1) == 0 ? code << 4 : code);
            }
        }
        if (!doubleQuant) {
            return new Nf4Weight(rows, cols, packed, scales, null, null, 0f);
        }
        double sum = 0;
        for (float s : scales) {
            sum += s;
        }
        float offset = (float) (sum / blocks);
        int scaleBlocks = (blocks + SCALE_BLOCK - 1) / SCALE_BLOCK;
        byte[] q = new byte[blocks];
        float[] scales2 = new float[scaleBlocks];
        for (int b2 = 0; b2 < scaleBlocks; b2++) {
            int from = b2 * SCALE_BLOCK;
            int to = Math.min(blocks, from + SCALE_BLOCK);
            float max = 0;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(scales[i] - offset));
            }
            scales2[b2] = max;
            float inv = 1f / max;
            for (int i = from; i < to; i++) {
                q[i] = (byte) (max == 0 ? DYNAMIC_ZERO : nearest(DYNAMIC_MAP, Math.clamp((scales[i] - offset) * inv, -1f, 1f)));
            }
        }
        return new Nf4Weight(rows, cols, packed, null, q, scales2, offset);
    }

    /** Index of the value in sorted {@code levels} nearest to {@code x}; the lower one on a tie (torch's argmin). */
    static int nearest(float[] levels, float x) {
        int lo = 0;
        int hi = levels.length - 1;
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (levels[mid] <= x) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return Math.abs(x - levels[lo]) <= Math.abs(levels[hi] - x) ? lo : hi;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** The scale of block {@code b}, recovered as bitsandbytes does: {@code map8[q]·scale2 + offset} when nested. */
    public float blockScale(int b) {
        if (absmax != null) {
            return absmax[b];
        }
        return DYNAMIC_MAP[quantizedAbsmax[b] & 0xFF] * absmaxScales[b / SCALE_BLOCK] + absmaxOffset;
    }

    /** The 4-bit code of flat element {@code i}. */
    public int code(long i) {
        int byt = packed[(int) (i >> 1)];
        return (i & 1) == 0 ? (byt >> 4) & 0xF : byt & 0xF;
    }

    /** Dequantises elements {@code [from, from + count)} (flat, row-major) into {@code dst[dstOffset..]}. */
    public void dequantize(long from, float[] dst, int dstOffset, int count) {
        long i = from;
        long end = from + count;
        int d = dstOffset;
        while (i < end) {
            int b = (int) (i / BLOCK);
            float scale = blockScale(b);
            long blockEnd = Math.min(end, (long) (b + 1) * BLOCK);
            if ((i & 1) != 0) {
                dst[d++] = LEVELS[code(i++)] * scale;
            }
            // whole bytes: both levels of a byte from one table row (blocks start on even elements)
            int byteIndex = (int) (i >> 1);
            for (; i + 1 < blockEnd; i += 2, d += 2) {
                int pair = (packed[byteIndex++] & 0xFF) << 1;
                dst[d] = PAIR_LEVELS[pair] * scale;
                dst[d + 1] = PAIR_LEVELS[pair + 1] * scale;
            }
            if (i < blockEnd) {
                dst[d++] = LEVELS[code(i++)] * scale;
            }
        }
    }

    /** The whole matrix as float32. */
    public float[] dequantize() {
        float[] out = new float[rows * cols];
        dequantize(0, out, 0, out.length);
        return out;
    }

    /** Bytes this weight occupies: the packed codes and the (possibly 8-bit) block scales. */
    public long byteSize() {
        long scales = absmax != null ? 4L * absmax.length : quantizedAbsmax.length + 4L * absmaxScales.length + 4;
        return packed.length + scales;
    }

    private static float[] pairLevels() {
        float[] pairs = new float[512];
        for (int b = 0; b < 256; b++) {
            pairs[2 * b] = LEVELS[b >> 4];
            pairs[2 * b + 1] = LEVELS[b & 0xF];
        }
        return pairs;
    }

    /**
     * {@code create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)}: for exponent e = 0..6, the
     * midpoints of {@code linspace(0.1, 1, 2^e + 1)} times 10^(e-6), both signs, plus 0 and 1; computed in float32
     * as torch does.
     */
    private static float[] dynamicMap() {
        float[] data = new float[256];
        int n = 0;
        for (int e = 0; e < 7; e++) {
            float[] bounds = linspace(0.1f, 1f, (1 << e) + 1);
            float power = (float) Math.pow(10, e - 6);
            for (int k = 0; k + 1 < bounds.length; k++) {
                float mean = (bounds[k] + bounds[k + 1]) / 2f;
                data[n++] = power * mean;
                data[n++] = -power * mean;
            }
        }
        data[n++] = 0f;
        data[n++] = 1f;
        if (n != 256) {
            throw new AssertionError("dynamic map has " + n + " entries");
        }
        Arrays.sort(data);
        return data;
    }

    /** torch.linspace in float32: from the start for the first half of the points, from the end for the rest. */
    private static float[] linspace(float start, float end, int steps) {
        float[] out = new float[steps];
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        }
        return out;
    }
}
