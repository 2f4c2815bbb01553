package dev.crucible.tensor;

/**
 * PyTorch's CPU generator for the draws mergekit-moe makes: after {@code torch.manual_seed(seed)},
 * {@link #randn} and {@link #rand} return what {@code torch.randn(n)} / {@code torch.rand(n)} return for
 * float32, so random routers can be reproduced exactly rather than only statistically. The engine is the
 * standard 32-bit Mersenne Twister (MT19937) seeded with the low 32 bits of the seed; a uniform float
 * takes the low 24 bits of one draw times 2^-24; normals are made 16 at a time by Box-Muller from 16
 * uniforms (pairs j and j + 8), the last 16 recomputed from fresh uniforms when n is not a multiple of 16.
 * Only n >= 16 follows torch (smaller tensors take another path in torch).
 */
public final class TorchRandom {
    /** torch's AVX2 kernel multiplies by 2π rounded to float (its scalar fallback rounds 2π·u in double). */
    private static final float TWO_PI = (float) (2 * Math.PI);
    private final MersenneTwister engine;

    public TorchRandom(long seed) {
        engine = new MersenneTwister((int) seed);
    }

    /** The next 32 random bits (as an unsigned value in the low bits of the long). */
    public long nextInt32() {
        return engine.nextInt32();
    }

    /** One uniform float in [0, 1), as torch's {@code uniform_real_distribution<float>(0, 1)}. */
    public float uniform() {
        return (nextInt32() & 0xFFFFFF) * 0x1.0p-24f;
    }

    /** {@code torch.rand(n)}: n uniform floats in [0, 1). */
    public float[] rand(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = uniform();
        }
        return out;
    }

    /** {@code torch.randn(n)} for n >= 16: standard normal floats. */
    public float[] randn(int n) {
        if (n < 16) {
            throw new IllegalArgumentException("torch draws fewer than 16 normals another way; n = " + n);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = uniform();
        }
        for (int i = 0; i + 16 <= n; i += 16) {
            boxMuller16(out, i);
        }
        if (n % 16 != 0) {
            int from = n - 16;
            for (int i = 0; i < 16; i++) {
                out[from + i] = uniform();
            }
            boxMuller16(out, from);
        }
        return out;
    }

    private static void boxMuller16(float[] data, int at) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1 - data[at + j];
            float u2 = data[at + j + 8];
            float radius = (float) Math.sqrt((float) (-2 * (float) Math.log(u1)));
            float theta = TWO_PI * u2;
            data[at + j] = radius * (float) Math.cos(theta);
            data[at + j + 8] = radius * (float) Math.sin(theta);
        }
    }
}
