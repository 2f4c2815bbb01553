package dev.crucible.gguf;

/** ggml's 32-value block formats Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0. */
final class LegacyQuants {
    private LegacyQuants() {
    }

    /** d (f16) and 16 bytes of nibbles; x = (q - 8) d with d = max / -8 of the value of largest magnitude. */
    static final class Q4_0 extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q4_0;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            for (int b = 0; b < n / 32; b++) {
                int xo = off + 32 * b;
                int o = dstOff + 18 * b;
                float d = largestMagnitude(x, xo) / -8f;
                float id = d != 0f ? 1.0f / d : 0.0f;
                putHalf(dst, o, d);
                for (int j = 0; j < 16; j++) {
                    float x0 = x[xo + j] * id;
                    float x1 = x[xo + 16 + j] * id;
                    int xi0 = Math.min(15, (byte) (int) (x0 + 8.5f));
                    int xi1 = Math.min(15, (byte) (int) (x1 + 8.5f));
                    dst[o + 2 + j] = (byte) ((xi0 & 0xFF) | (xi1 << 4));
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / 32; b++) {
                int o = srcOff + 18 * b;
                float d = half(src, o);
                for (int j = 0; j < 16; j++) {
                    int q = src[o + 2 + j] & 0xFF;
                    y[off + 32 * b + j] = ((q & 0x0F) - 8) * d;
                    y[off + 32 * b + 16 + j] = ((q >> 4) - 8) * d;
                }
            }
        }
    }

    /** d, m (f16) and 16 bytes of nibbles; x = q d + m. */
    static final class Q4_1 extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q4_1;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            for (int b = 0; b < n / 32; b++) {
                int xo = off + 32 * b;
                int o = dstOff + 20 * b;
                float min = blockMin(x, xo);
                float max = blockMax(x, xo);
                float d = (max - min) / 15f;
                float id = d != 0f ? 1.0f / d : 0.0f;
                putHalf(dst, o, d);
                putHalf(dst, o + 2, min);
                for (int j = 0; j < 16; j++) {
                    float x0 = (x[xo + j] - min) * id;
                    float x1 = (x[xo + 16 + j] - min) * id;
                    int xi0 = Math.min(15, (byte) (int) (x0 + 0.5f));
                    int xi1 = Math.min(15, (byte) (int) (x1 + 0.5f));
                    dst[o + 4 + j] = (byte) ((xi0 & 0xFF) | (xi1 << 4));
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / 32; b++) {
                int o = srcOff + 20 * b;
                float d = half(src, o);
                float m = half(src, o + 2);
                for (int j = 0; j < 16; j++) {
                    int q = src[o + 4 + j] & 0xFF;
                    y[off + 32 * b + j] = (q & 0x0F) * d + m;
                    y[off + 32 * b + 16 + j] = (q >> 4) * d + m;
                }
            }
        }
    }

    /** d (f16), 32 high bits, 16 bytes of nibbles; x = (q - 16) d with d = max / -16. */
    static final class Q5_0 extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q5_0;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            for (int b = 0; b < n / 32; b++) {
                int xo = off + 32 * b;
                int o = dstOff + 22 * b;
                float d = largestMagnitude(x, xo) / -16f;
                float id = d != 0f ? 1.0f / d : 0.0f;
                putHalf(dst, o, d);
                int qh = 0;
                for (int j = 0; j < 16; j++) {
                    float x0 = x[xo + j] * id;
                    float x1 = x[xo + 16 + j] * id;
                    int xi0 = Math.min(31, (byte) (int) (x0 + 16.5f)) & 0xFF;
                    int xi1 = Math.min(31, (byte) (int) (x1 + 16.5f)) & 0xFF;
                    dst[o + 6 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                    qh |= ((xi0 & 0x10) >>> 4) << j;
                    qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
                }
                putInt(dst, o + 2, qh);
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / 32; b++) {
                int o = srcOff + 22 * b;
                float d = half(src, o);
                int qh = getInt(src, o + 2);
                for (int j = 0; j < 16; j++) {
                    int q = src[o + 6 + j] & 0xFF;
                    int h0 = ((qh >>> j) << 4) & 0x10;
                    int h1 = (qh >>> (j + 12)) & 0x10;
                    y[off + 32 * b + j] = (((q & 0x0F) | h0) - 16) * d;
                    y[off + 32 * b + 16 + j] = (((q >> 4) | h1) - 16) * d;
                }
            }
        }
    }

    /** d, m (f16), 32 high bits, 16 bytes of nibbles; x = q d + m. */
    static final class Q5_1 extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q5_1;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            for (int b = 0; b < n / 32; b++) {
                int xo = off + 32 * b;
                int o = dstOff + 24 * b;
                float min = blockMin(x, xo);
                float max = blockMax(x, xo);
                float d = (max - min) / 31f;
                float id = d != 0f ? 1.0f / d : 0.0f;
                putHalf(dst, o, d);
                putHalf(dst, o + 2, min);
                int qh = 0;
                for (int j = 0; j < 16; j++) {
                    float x0 = (x[xo + j] - min) * id;
                    float x1 = (x[xo + 16 + j] - min) * id;
                    int xi0 = (int) (x0 + 0.5f) & 0xFF;
                    int xi1 = (int) (x1 + 0.5f) & 0xFF;
                    dst[o + 8 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                    qh |= ((xi0 & 0x10) >>> 4) << j;
                    qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
                }
                putInt(dst, o + 4, qh);
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / 32; b++) {
                int o = srcOff + 24 * b;
                float d = half(src, o);
                float m = half(src, o + 2);
                int qh = getInt(src, o + 4);
                for (int j = 0; j < 16; j++) {
                    int q = src[o + 8 + j] & 0xFF;
                    int h0 = ((qh >>> j) << 4) & 0x10;
                    int h1 = (qh >>> (j + 12)) & 0x10;
                    y[off + 32 * b + j] = ((q & 0x0F) | h0) * d + m;
                    y[off + 32 * b + 16 + j] = ((q >> 4) | h1) * d + m;
                }
            }
        }
    }

    /**
     * d (f16) and 32 signed bytes; x = q d with d = amax / 127. The converter's numpy Q8_0 and ggml's reference
     * give the same bytes (both round half away from zero in float32), so this one class serves both tools.
     */
    static final class Q8_0 extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q8_0;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            for (int b = 0; b < n / 32; b++) {
                int xo = off + 32 * b;
                int o = dstOff + 34 * b;
                float amax = 0f;
                for (int j = 0; j < 32; j++) {
                    amax = max(amax, Math.abs(x[xo + j]));
                }
                float d = amax / 127f;
                float id = d != 0f ? 1.0f / d : 0.0f;
                putHalf(dst, o, d);
                for (int j = 0; j < 32; j++) {
                    dst[o + 2 + j] = (byte) roundf(x[xo + j] * id);
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / 32; b++) {
                int o = srcOff + 34 * b;
                float d = half(src, o);
                for (int j = 0; j < 32; j++) {
                    y[off + 32 * b + j] = src[o + 2 + j] * d;
                }
            }
        }
    }

    /** The value of largest magnitude of a block of 32, the first one on ties (ggml's amax/max loop). */
    private static float largestMagnitude(float[] x, int xo) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static float blockMin(float[] x, int xo) {
        float min = Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            if (x[xo + j] < min) {
                min = x[xo + j];
            }
        }
        return min;
    }

    private static float blockMax(float[] x, int xo) {
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            if (x[xo + j] > max) {
                max = x[xo + j];
            }
        }
        return max;
    }

    static void putInt(byte[] b, int i, int v) {
        b[i] = (byte) v;
        b[i + 1] = (byte) (v >> 8);
        b[i + 2] = (byte) (v >> 16);
        b[i + 3] = (byte) (v >> 24);
    }

    static int getInt(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
    }
}
