package dev.crucible.data.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * MinHash against the real tools: {@code testdata/recipe/minhash_reference.json} was written by
 * {@code tools/minhash_reference.py} with datasketch (signatures, permutations, LSH parameters), the Python xxhash
 * package (XXH3-64) and text-dedup's tokenisation.
 */
class MinHashTest {
    private static JsonNode ref;

    @BeforeAll
    static void load() throws IOException {
        ref = new ObjectMapper().readTree(Path.of("testdata/recipe/minhash_reference.json").toFile());
    }

    @Test
    void xxh3MatchesPythonXxhashAtEveryLengthAndSeed() {
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) ((i * 31 + 7) % 251);
        }
        JsonNode lengths = ref.get("lengths");
        int checked = 0;
        for (var seeds = ref.get("xxh3_64").properties().iterator(); seeds.hasNext(); ) {
            var entry = seeds.next();
            long seed = Long.parseUnsignedLong(entry.getKey());
            for (int i = 0; i < lengths.size(); i++) {
                int n = lengths.get(i).intValue();
                long expected = Long.parseUnsignedLong(entry.getValue().get(i).textValue(), 16);
                assertEquals(expected, Xxh3.hash64(data, 0, n, seed), "length " + n + " seed " + seed);
                checked++;
            }
        }
        assertEquals(5 * lengths.size(), checked);
    }

    @Test
    void permutationsAreDatasketchs() {
        for (String seed : List.of("1", "42")) {
            MinHash m = new MinHash(16, 5, Long.parseLong(seed), MinHash.ShingleHash.SHA1);
            JsonNode p = ref.get("permutations").get(seed);
            assertArrayEquals(longs(p.get("a")), m.a(), "a, seed " + seed);
            assertArrayEquals(longs(p.get("b")), m.b(), "b, seed " + seed);
        }
    }

    @Test
    void signaturesEqualDatasketchBitForBit() {
        int checked = 0;
        for (JsonNode s : ref.get("signatures")) {
            MinHash m = new MinHash(128, s.get("ngram").intValue(), s.get("seed").longValue(),
                    MinHash.ShingleHash.valueOf(s.get("hash").textValue().toUpperCase()));
            int[] sig = new int[128];
            m.signer().sign(s.get("text").textValue(), sig, 0);
            long[] got = new long[128];
            for (int k = 0; k < 128; k++) {
                got[k] = sig[k] & 0xFFFFFFFFL;
            }
            assertArrayEquals(longs(s.get("signature")), got, s.get("hash") + " ngram " + s.get("ngram") + " seed "
                    + s.get("seed") + ": " + s.get("text"));
            checked++;
        }
        assertEquals(48, checked);
    }

    @Test
    void wordsFollowTextDedupsSplit() {
        for (JsonNode t : ref.get("words")) {
            Words w = new Words().split(t.get("text").textValue());
            List<String> got = new ArrayList<>();
            for (int i = 0; i < w.count(); i++) {
                got.add(w.word(i));
            }
            List<String> expected = new ArrayList<>();
            t.get("words").forEach(x -> expected.add(x.textValue()));
            assertEquals(expected, got);
        }
    }

    @Test
    void bandsAndRowsAreDatasketchsOptimalParam() {
        for (JsonNode c : ref.get("lsh")) {
            LshParams p = LshParams.optimal(c.get("threshold").doubleValue(), c.get("num_perm").intValue());
            assertEquals(new LshParams(c.get("bands").intValue(), c.get("rows").intValue()), p,
                    "threshold " + c.get("threshold") + " num_perm " + c.get("num_perm"));
        }
    }

    @Test
    void estimatedJaccardCountsAgreeingPositions() {
        int[] x = {1, 2, 3, 4};
        int[] y = {9, 1, 2, 3, 5};
        assertEquals(0.75, MinHash.estimatedJaccard(x, 0, y, 1, 4));
    }

    private static long[] longs(JsonNode arr) {
        long[] out = new long[arr.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Long.parseUnsignedLong(arr.get(i).asText());
        }
        return out;
    }
}
