package dev.crucible.eval.tasks;

import dev.crucible.tensor.MersenneTwister;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * CPython's {@code random.Random} (3.8 to 3.13): the Mersenne Twister ({@link MersenneTwister}) seeded from an
 * integer as {@code init_by_array} over the integer's 32-bit words, and the methods lm-eval draws with: {@code random()},
 * {@code getrandbits}, {@code sample} (few-shot examples) and {@code choices} (bootstrap resamples). The same seed
 * gives the same draws as Python, so few-shot prompts and bootstrapped standard errors equal lm-eval's.
 */
public final class PythonRandom {
    private final MersenneTwister engine;

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
        engine = new MersenneTwister(key);
    }

    private long nextUint32() {
        return engine.nextInt32();
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
