package dev.crucible.eval.tasks;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * CPython's {@code random.Random} (3.8 to 3.13): the Mersenne Twister MT19937 seeded from an integer as
 * {@code init_by_array} over the integer's 32-bit words, and the methods lm-eval draws with: {@code random()},
 * {@code getrandbits}, {@code sample} (few-shot examples) and {@code choices} (bootstrap resamples). The same seed
 * gives the same draws as Python, so few-shot prompts and bootstrapped standard errors equal lm-eval's.
 */
public final class PythonRandom {
    private static final int N = 624;
    private static final int M = 397;
    private final int[] mt = new int[N];
    private int mti;

    public PythonRandom(long seed) {
        this(BigInteger.valueOf(seed));
    }

    /** {@code random.Random(seed)} for an int seed (its absolute value, as CPython uses). */
    public PythonRandom(BigInteger seed) {
        BigInteger n = seed.abs();
        int words = Math.max(1, (n.bitLength() + 31) / 32);
        int[] key = new int[words];
        for (int i = 0; i < words; i++) {
            key[i] = n.shiftRight(32 * i).intValue();
        }
        initByArray(key);
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (mti = 1; mti < N; mti++) {
            mt[mti] = 1812433253 * (mt[mti - 1] ^ (mt[mti - 1] >>> 30)) + mti;
        }
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000;
    }

    /** The next 32 random bits (genrand_uint32), as an unsigned value in a long. */
    long nextUint32() {
        if (mti >= N) {
            int kk;
            for (kk = 0; kk < N - M; kk++) {
                int y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            }
            for (; kk < N - 1; kk++) {
                int y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            }
            int y = (mt[N - 1] & 0x80000000) | (mt[0] & 0x7fffffff);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            mti = 0;
        }
        int y = mt[mti++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    /** {@code random()}: a double in [0, 1) with 53 random bits. */
    public double random() {
        long a = nextUint32() >>> 5;
        long b = nextUint32() >>> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /** {@code getrandbits(k)} for 0 <= k <= 63: words are drawn low word first, the last one shifted. */
    public long getrandbits(int k) {
        if (k < 0 || k > 63) {
            throw new IllegalArgumentException("k must be in [0, 63]");
        }
        if (k == 0) {
            return 0;
        }
        if (k <= 32) {
            return nextUint32() >>> (32 - k);
        }
        long low = nextUint32();
        long high = nextUint32() >>> (64 - k);
        return low | (high << 32);
    }

    /** {@code _randbelow_with_getrandbits(n)}: uniform in [0, n) by rejection on n.bit_length() bits. */
    public long randbelow(long n) {
        if (n <= 0) {
            return 0;
        }
        int k = 64 - Long.numberOfLeadingZeros(n);
        long r = getrandbits(k);
        while (r >= n) {
            r = getrandbits(k);
        }
        return r;
    }

    /**
     * {@code sample(population, k)}: k distinct elements in selection order. Like CPython, a small population
     * is drawn from a shrinking pool, a large one by rejecting repeated indices.
     */
    public <T> List<T> sample(List<T> population, int k) {
        int n = population.size();
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("Sample larger than population or is negative");
        }
        List<T> result = new ArrayList<>(k);
        long setSize = 21;
        if (k > 5) {
            setSize += (long) Math.pow(4, Math.ceil(Math.log(k * 3.0) / Math.log(4)));
        }
        if (n <= setSize) {
            List<T> pool = new ArrayList<>(population);
            for (int i = 0; i < k; i++) {
                int j = (int) randbelow(n - i);
                result.add(pool.get(j));
                pool.set(j, pool.get(n - i - 1));
            }
        } else {
            Set<Integer> selected = new HashSet<>();
            for (int i = 0; i < k; i++) {
                int j = (int) randbelow(n);
                while (selected.contains(j)) {
                    j = (int) randbelow(n);
                }
                selected.add(j);
                result.add(population.get(j));
            }
        }
        return result;
    }

    /** {@code choices(population, k=k)} without weights: the indices {@code floor(random() * n)}. */
    public int[] choiceIndices(int n, int k) {
        int[] out = new int[k];
        double size = n;
        for (int i = 0; i < k; i++) {
            out[i] = (int) Math.floor(random() * size);
        }
        return out;
    }
}
