package dev.crucible.tensor;

/**
 * The 32-bit Mersenne Twister MT19937 (Matsumoto and Nishimura), the engine of both PyTorch's CPU generator and
 * CPython's {@code random}: they differ only in seeding ({@link #MersenneTwister(int)}, {@code init_genrand}, for
 * torch; {@link #MersenneTwister(int[])}, {@code init_by_array}, for Python) and in how they turn draws into numbers.
 */
public final class MersenneTwister {
    private static final int N = 624;
    private static final int M = 397;
    private final int[] state = new int[N];
    private int next = N;

    /** {@code init_genrand(seed)}. */
    public MersenneTwister(int seed) {
        initGenrand(seed);
    }

    /** {@code init_by_array(key)} (CPython seeds with the absolute value's 32-bit words, low word first). */
    public MersenneTwister(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                state[0] = state[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                state[0] = state[N - 1];
                i = 1;
            }
        }
        state[0] = 0x80000000;
    }

    private void initGenrand(int seed) {
        state[0] = seed;
        for (int i = 1; i < N; i++) {
            state[i] = 1812433253 * (state[i - 1] ^ (state[i - 1] >>> 30)) + i;
        }
    }

    /** The next 32 random bits (genrand_uint32), as an unsigned value in the low bits of the long. */
    public long nextInt32() {
        if (next >= N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xFFFFFFFFL;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (state[i] & 0x80000000) | (state[(i + 1) % N] & 0x7fffffff);
            int v = state[(i + M) % N] ^ (y >>> 1);
            state[i] = (y & 1) != 0 ? v ^ 0x9908b0df : v;
        }
        next = 0;
    }
}
