package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dequantisation against gguf-py's: the quantised files of the kquant fixture (byte-identical to llama.cpp's,
 * see {@link GgufExportTest}) read back by {@link GgufModel}, every tensor's first values equal to gguf-py's and
 * its sum equal within float32 summation error (testdata/gguf/dequantized.json).
 */
class GgufDequantizeTest {
    @TempDir
    Path tmp;

    @Test
    void everyTensorDequantisesAsGgufPyDoes() {
        JsonNode expected = GgufFixtures.dequantized();
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (Iterator<String> files = expected.fieldNames(); files.hasNext(); ) {
            String key = files.next(); // "fixture.type"
            String fixture = key.substring(0, key.indexOf('.'));
            OutType type = OutType.parse(key.substring(key.indexOf('.') + 1));
            Path model = tmp.resolve("models").resolve(fixture);
            if (!model.toFile().exists()) {
                GgufFixtures.assemble(fixture, tmp.resolve("models"));
            }
            Path out = tmp.resolve(key + ".gguf");
            GgufExport.export(model, Map.of(type, out), GgufFixtures.pre(fixture), GgufExportTest.quiet());
            try (GgufModel m = GgufModel.open(out)) {
                for (Iterator<Map.Entry<String, JsonNode>> it = expected.get(key).fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    GgufTensorInfo info = m.file().tensor(e.getKey());
                    assertEquals(e.getValue().get("type").asText(), info.type().name(), key + " " + e.getKey());
                    float[] v = m.dequantize(info);
                    JsonNode head = e.getValue().get("head");
                    for (int i = 0; i < head.size(); i++) {
                        if (Float.floatToIntBits(v[i]) != Float.floatToIntBits((float) head.get(i).asDouble())) {
                            wrong.add(key + " " + e.getKey() + "[" + i + "] " + v[i] + " vs " + head.get(i).asDouble());
                            break;
                        }
                    }
                    double sum = 0;
                    double abs = 0;
                    for (float x : v) {
                        sum += x;
                        abs += Math.abs(x);
                    }
                    if (Math.abs(sum - e.getValue().get("sum").asDouble()) > 1e-9 * Math.max(1, abs)) {
                        wrong.add(key + " " + e.getKey() + ": sum " + sum + " vs " + e.getValue().get("sum").asDouble());
                    }
                    checked++;
                }
            }
        }
        assertTrue(checked > 100, "checked " + checked);
        assertEquals(List.of(), wrong);
    }

    @Test
    void cRoundingHelpersMatchC() {
        assertEquals(0, BlockQuant.roundf(0.49999997f));
        assertEquals(1, BlockQuant.roundf(0.5f));
        assertEquals(-1, BlockQuant.roundf(-0.5f));
        assertEquals(-2, BlockQuant.roundf(-1.5f));
        assertEquals(127, BlockQuant.roundf(126.5f));
        assertEquals(2, BlockQuant.nearestInt(2.5f)); // nearest_int ties to even (1.5 * 2^23 trick)
        assertEquals(4, BlockQuant.nearestInt(3.5f));
        assertEquals(-3, BlockQuant.nearestInt(-2.6f));
    }
}
