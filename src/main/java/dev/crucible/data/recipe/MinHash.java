package dev.crucible.data.recipe;

import dev.crucible.tensor.TorchRandom;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * MinHash signatures of word-shingle sets, as datasketch computes them: each shingle (a run of {@code ngram} words,
 * see {@link Words}) is hashed to 32 bits ({@link ShingleHash}), then permuted {@code numPerm} times by
 * {@code ((a * h + b) mod 2^64) mod (2^61 - 1)}, keeping the low 32 bits (datasketch multiplies in numpy uint64,
 * so the product wraps before the Mersenne-prime reduction); the signature is the minimum of each permutation
 * over the shingles. The {@code (a, b)} pairs are datasketch's: {@code numpy.random.RandomState(seed)} drawing
 * {@code randint(1, p)} then {@code randint(0, p)} per permutation. So a signature here equals
 * {@code datasketch.MinHash(num_perm, seed, hashfunc).hashvalues} bit for bit ({@code MinHashTest}).
 *
 * <p>An instance is immutable and shared; {@link #signer()} gives each thread its scratch.
 */
public final class MinHash {
    static final long PRIME = (1L << 61) - 1;
    private static final long LOW32 = 0xFFFFFFFFL;
    private static final VectorSpecies<Long> SPECIES = LongVector.SPECIES_PREFERRED;

    /** How a shingle's bytes become the 32-bit value that is permuted. */
    public enum ShingleHash {
        /** text-dedup's default: XXH3-64 seeded with the MinHash seed, low 32 bits. */
        XXH3,
        /** datasketch's default {@code sha1_hash32}: the first 4 bytes of SHA-1, little-endian. */
        SHA1
    }

    private final int numPerm;
    private final int ngram;
    private final long seed;
    private final ShingleHash hash;
    private final long[] a;
    private final long[] b;

    public MinHash(int numPerm, int ngram, long seed, ShingleHash hash) {
        if (numPerm < 1) {
            throw new IllegalArgumentException("numPerm " + numPerm);
        }
        this.numPerm = numPerm;
        this.ngram = ngram;
        this.seed = seed;
        this.hash = hash;
        this.a = new long[numPerm];
        this.b = new long[numPerm];
        TorchRandom mt = new TorchRandom(seed);
        for (int i = 0; i < numPerm; i++) {
            a[i] = 1 + boundedBelow(mt, PRIME - 2);
            b[i] = boundedBelow(mt, PRIME - 1);
        }
    }

    /**
     * numpy's legacy {@code RandomState.randint} for uint64 ranges wider than 32 bits: 64-bit draws (two MT19937
     * outputs, high word first) masked to the range's bit length, rejected until at most {@code max}.
     */
    private static long boundedBelow(TorchRandom mt, long max) {
        long mask = -1L >>> Long.numberOfLeadingZeros(max);
        while (true) {
            long v = ((mt.nextInt32() << 32) | mt.nextInt32()) & mask;
            if (v <= max) {
                return v;
            }
        }
    }

    public int numPerm() {
        return numPerm;
    }

    public int ngram() {
        return ngram;
    }

    long[] a() {
        return a.clone();
    }

    long[] b() {
        return b.clone();
    }

    /** Per-thread scratch for computing signatures. */
    public Signer signer() {
        return new Signer();
    }

    /** The fraction of positions where two signatures agree: datasketch's {@code MinHash.jaccard}. */
    public static double estimatedJaccard(int[] x, int xOff, int[] y, int yOff, int numPerm) {
        int same = 0;
        for (int k = 0; k < numPerm; k++) {
            if (x[xOff + k] == y[yOff + k]) {
                same++;
            }
        }
        return (double) same / numPerm;
    }

    /** Signatures for one thread: word splitting, shingle hashes and the permutations, without allocation per row. */
    public final class Signer {
        private final Words words = new Words();
        private final MessageDigest sha1;
        private final long[] mins = new long[numPerm];
        private long[] hashes = new long[256];

        private Signer() {
            try {
                sha1 = hash == ShingleHash.SHA1 ? MessageDigest.getInstance("SHA-1") : null;
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        /**
         * Writes the signature of {@code text} to {@code out[off, off + numPerm)} (unsigned 32-bit values) and returns
         * the number of shingles; a text without words has none and its signature is all {@code 0xFFFFFFFF}.
         */
        public int sign(String text, int[] out, int off) {
            words.split(text);
            int n = words.shingleCount(ngram);
            if (hashes.length < n) {
                hashes = new long[Math.max(n, hashes.length * 2)];
            }
            byte[] bytes = words.bytes();
            for (int i = 0; i < n; i++) {
                int start = words.shingleStart(i);
                hashes[i] = hash32(bytes, start, words.shingleEnd(i, ngram) - start);
            }
            permuteMin(hashes, n, mins);
            for (int k = 0; k < numPerm; k++) {
                out[off + k] = (int) mins[k];
            }
            return n;
        }

        private long hash32(byte[] bytes, int start, int len) {
            if (sha1 == null) {
                return Xxh3.hash64(bytes, start, len, seed) & LOW32;
            }
            sha1.update(bytes, start, len);
            byte[] d = sha1.digest();
            return (d[0] & 0xFFL) | (d[1] & 0xFFL) << 8 | (d[2] & 0xFFL) << 16 | (d[3] & 0xFFL) << 24;
        }
    }

    /** For each permutation, the minimum over the shingle hashes (Vector API over the permutations). */
    private void permuteMin(long[] hashes, int n, long[] mins) {
        int lanes = SPECIES.length();
        int k = 0;
        for (; k + lanes <= numPerm; k += lanes) {
            LongVector va = LongVector.fromArray(SPECIES, a, k);
            LongVector vb = LongVector.fromArray(SPECIES, b, k);
            LongVector min = LongVector.broadcast(SPECIES, LOW32);
            for (int i = 0; i < n; i++) {
                LongVector v = va.mul(hashes[i]).add(vb);
                // x mod (2^61 - 1) for unsigned x: fold the top 3 bits onto the low 61, then one conditional subtract
                v = v.and(PRIME).add(v.lanewise(VectorOperators.LSHR, 61));
                v = v.sub(PRIME, v.compare(VectorOperators.GE, PRIME));
                min = min.min(v.and(LOW32));
            }
            min.intoArray(mins, k);
        }
        for (; k < numPerm; k++) {
            long min = LOW32;
            for (int i = 0; i < n; i++) {
                long v = a[k] * hashes[i] + b[k];
                v = (v & PRIME) + (v >>> 61);
                if (v >= PRIME) {
                    v -= PRIME;
                }
                min = Math.min(min, v & LOW32);
            }
            mins[k] = min;
        }
    }
}
