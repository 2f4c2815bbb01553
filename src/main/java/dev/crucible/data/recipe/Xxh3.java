package dev.crucible.data.recipe;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.HexFormat;

/**
 * XXH3-64 with a seed ({@code XXH3_64bits_withSeed}, {@code xxhash.xxh3_64_intdigest(data, seed)} in Python), the
 * shingle hash text-dedup uses for MinHash by default. Written from the xxHash specification; checked bit for bit
 * against the Python {@code xxhash} package at every length path (see {@code Xxh3Test}).
 */
public final class Xxh3 {
    /** XXH3's default 192-byte secret ({@code XXH3_kSecret} of xxhash.h). */
    private static final byte[] SECRET = HexFormat.of().parseHex(
            "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221"
                    + "b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
                    + "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb"
                    + "170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e");
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private static final long PRIME32_1 = 0x9E3779B1L;
    private static final long PRIME32_2 = 0x85EBCA77L;
    private static final long PRIME32_3 = 0xC2B2AE3DL;
    private static final long PRIME64_1 = 0x9E3779B185EBCA87L;
    private static final long PRIME64_2 = 0xC2B2AE3D27D4EB4FL;
    private static final long PRIME64_3 = 0x165667B19E3779F9L;
    private static final long PRIME64_4 = 0x85EBCA77C2B2AE63L;
    private static final long PRIME64_5 = 0x27D4EB2F165667C5L;
    private static final long PRIME_MX1 = 0x165667919E3779F9L;
    private static final long PRIME_MX2 = 0x9FB21C651E98DF25L;
    private static final int STRIPE = 64;
    private static final int MIDSIZE_MAX = 240;

    private Xxh3() {
    }

    public static long hash64(byte[] data, long seed) {
        return hash64(data, 0, data.length, seed);
    }

    public static long hash64(byte[] in, int off, int len, long seed) {
        if (len <= 16) {
            if (len > 8) {
                return len9to16(in, off, len, seed);
            }
            if (len >= 4) {
                return len4to8(in, off, len, seed);
            }
            if (len > 0) {
                return len1to3(in, off, len, seed);
            }
            return xxh64Avalanche(seed ^ (readLong(SECRET, 56) ^ readLong(SECRET, 64)));
        }
        if (len <= 128) {
            return len17to128(in, off, len, seed);
        }
        if (len <= MIDSIZE_MAX) {
            return len129to240(in, off, len, seed);
        }
        return hashLong(in, off, len, seed == 0 ? SECRET : derivedSecret(seed));
    }

    private static long len1to3(byte[] in, int off, int len, long seed) {
        int c1 = in[off] & 0xFF;
        int c2 = in[off + (len >> 1)] & 0xFF;
        int c3 = in[off + len - 1] & 0xFF;
        long combined = ((c1 << 16) | (c2 << 24) | c3 | (len << 8)) & 0xFFFFFFFFL;
        long bitflip = ((readInt(SECRET, 0) ^ readInt(SECRET, 4)) & 0xFFFFFFFFL) + seed;
        return xxh64Avalanche(combined ^ bitflip);
    }

    private static long len4to8(byte[] in, int off, int len, long seed) {
        seed ^= (Integer.reverseBytes((int) seed) & 0xFFFFFFFFL) << 32;
        long input1 = readInt(in, off) & 0xFFFFFFFFL;
        long input2 = readInt(in, off + len - 4) & 0xFFFFFFFFL;
        long bitflip = (readLong(SECRET, 8) ^ readLong(SECRET, 16)) - seed;
        long keyed = (input2 + (input1 << 32)) ^ bitflip;
        return rrmxmx(keyed, len);
    }

    private static long len9to16(byte[] in, int off, int len, long seed) {
        long bitflip1 = (readLong(SECRET, 24) ^ readLong(SECRET, 32)) + seed;
        long bitflip2 = (readLong(SECRET, 40) ^ readLong(SECRET, 48)) - seed;
        long lo = readLong(in, off) ^ bitflip1;
        long hi = readLong(in, off + len - 8) ^ bitflip2;
        long acc = len + Long.reverseBytes(lo) + hi + mulFold(lo, hi);
        return avalanche(acc);
    }

    private static long len17to128(byte[] in, int off, int len, long seed) {
        long acc = len * PRIME64_1;
        if (len > 32) {
            if (len > 64) {
                if (len > 96) {
                    acc += mix16(in, off + 48, SECRET, 96, seed);
                    acc += mix16(in, off + len - 64, SECRET, 112, seed);
                }
                acc += mix16(in, off + 32, SECRET, 64, seed);
                acc += mix16(in, off + len - 48, SECRET, 80, seed);
            }
            acc += mix16(in, off + 16, SECRET, 32, seed);
            acc += mix16(in, off + len - 32, SECRET, 48, seed);
        }
        acc += mix16(in, off, SECRET, 0, seed);
        acc += mix16(in, off + len - 16, SECRET, 16, seed);
        return avalanche(acc);
    }

    private static long len129to240(byte[] in, int off, int len, long seed) {
        long acc = len * PRIME64_1;
        int rounds = len / 16;
        for (int i = 0; i < 8; i++) {
            acc += mix16(in, off + 16 * i, SECRET, 16 * i, seed);
        }
        acc = avalanche(acc);
        for (int i = 8; i < rounds; i++) {
            acc += mix16(in, off + 16 * i, SECRET, 16 * (i - 8) + 3, seed);
        }
        acc += mix16(in, off + len - 16, SECRET, 136 - 17, seed);
        return avalanche(acc);
    }

    /** Inputs over 240 bytes: 64-byte stripes into eight accumulators, scrambled after each block. */
    private static long hashLong(byte[] in, int off, int len, byte[] secret) {
        long[] acc = {PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1};
        int stripesPerBlock = (secret.length - STRIPE) / 8;
        int blockLen = STRIPE * stripesPerBlock;
        int blocks = (len - 1) / blockLen;
        for (int b = 0; b < blocks; b++) {
            for (int s = 0; s < stripesPerBlock; s++) {
                accumulate(acc, in, off + b * blockLen + s * STRIPE, secret, s * 8);
            }
            scramble(acc, secret, secret.length - STRIPE);
        }
        int lastStripes = ((len - 1) - blockLen * blocks) / STRIPE;
        for (int s = 0; s < lastStripes; s++) {
            accumulate(acc, in, off + blocks * blockLen + s * STRIPE, secret, s * 8);
        }
        accumulate(acc, in, off + len - STRIPE, secret, secret.length - STRIPE - 7);
        long result = len * PRIME64_1;
        for (int i = 0; i < 4; i++) {
            result += mulFold(acc[2 * i] ^ readLong(secret, 11 + 16 * i), acc[2 * i + 1] ^ readLong(secret, 11 + 16 * i + 8));
        }
        return avalanche(result);
    }

    private static void accumulate(long[] acc, byte[] in, int off, byte[] secret, int secretOff) {
        for (int i = 0; i < 8; i++) {
            long value = readLong(in, off + 8 * i);
            long key = value ^ readLong(secret, secretOff + 8 * i);
            acc[i ^ 1] += value;
            acc[i] += (key & 0xFFFFFFFFL) * (key >>> 32);
        }
    }

    private static void scramble(long[] acc, byte[] secret, int secretOff) {
        for (int i = 0; i < 8; i++) {
            long a = acc[i];
            a ^= a >>> 47;
            a ^= readLong(secret, secretOff + 8 * i);
            acc[i] = a * PRIME32_1;
        }
    }

    /** The secret a seed derives for long inputs: each 16-byte lane gets +seed on its low half, -seed on its high. */
    private static byte[] derivedSecret(long seed) {
        byte[] s = new byte[SECRET.length];
        for (int i = 0; i < SECRET.length; i += 16) {
            LONG.set(s, i, readLong(SECRET, i) + seed);
            LONG.set(s, i + 8, readLong(SECRET, i + 8) - seed);
        }
        return s;
    }

    private static long mix16(byte[] in, int off, byte[] secret, int secretOff, long seed) {
        long lo = readLong(in, off);
        long hi = readLong(in, off + 8);
        return mulFold(lo ^ (readLong(secret, secretOff) + seed), hi ^ (readLong(secret, secretOff + 8) - seed));
    }

    /** The 128-bit product of two 64-bit values, its halves xor-ed. */
    private static long mulFold(long a, long b) {
        return (a * b) ^ Math.unsignedMultiplyHigh(a, b);
    }

    private static long rrmxmx(long h, int len) {
        h ^= Long.rotateLeft(h, 49) ^ Long.rotateLeft(h, 24);
        h *= PRIME_MX2;
        h ^= (h >>> 35) + len;
        h *= PRIME_MX2;
        return h ^ (h >>> 28);
    }

    private static long avalanche(long h) {
        h ^= h >>> 37;
        h *= PRIME_MX1;
        return h ^ (h >>> 32);
    }

    private static long xxh64Avalanche(long h) {
        h ^= h >>> 33;
        h *= PRIME64_2;
        h ^= h >>> 29;
        h *= PRIME64_3;
        return h ^ (h >>> 32);
    }

    private static long readLong(byte[] b, int off) {
        return (long) LONG.get(b, off);
    }

    private static int readInt(byte[] b, int off) {
        return (int) INT.get(b, off);
    }
}
