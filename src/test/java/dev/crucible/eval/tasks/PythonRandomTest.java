package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** CPython 3.11's random.Random draws (testdata/lm_eval/python_random.json, from tools/lm_eval_fixtures.py). */
class PythonRandomTest {
    @Test
    void drawsEqualCpythons() throws IOException {
        JsonNode cases = LmEvalFixtures.read(LmEvalFixtures.ROOT.resolve("python_random.json"));
        assertEquals(8, cases.size());
        for (JsonNode c : cases) {
            BigInteger seed = c.get("seed").bigIntegerValue();
            PythonRandom r = new PythonRandom(seed);
            for (JsonNode x : c.get("random")) {
                assertEquals(x.asDouble(), r.random(), 0.0, "random() seed " + seed);
            }
            for (int k : new int[] {1, 7, 31, 32, 33, 63}) {
                assertEquals(c.get("getrandbits").get(String.valueOf(k)).asLong(), r.getrandbits(k), "getrandbits " + k);
            }
            for (JsonNode s : c.get("sample")) {
                int n = s.get("n").asInt();
                List<Integer> population = IntStream.range(0, n).boxed().toList();
                List<Integer> expected = new ArrayList<>();
                s.get("out").forEach(v -> expected.add(v.asInt()));
                assertEquals(expected, r.sample(population, s.get("k").asInt()), "sample(" + n + ") seed " + seed);
            }
            JsonNode ch = c.get("choices");
            int[] got = new PythonRandom(seed).choiceIndices(ch.get("n").asInt(), ch.get("k").asInt());
            for (int i = 0; i < got.length; i++) {
                assertEquals(ch.get("out").get(i).asInt(), got[i], "choices seed " + seed);
            }
        }
    }
}
