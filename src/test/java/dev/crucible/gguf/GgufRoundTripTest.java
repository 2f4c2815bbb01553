package dev.crucible.gguf;

import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Round trip: Crucible's logits from its exported GGUF against transformers' float32 logits of the safetensors
 * model (testdata/hf/models/&lt;arch&gt;/reference.safetensors), for every fixture and type. The error is
 * max |Δlogit| / max |logit|; the bounds are the quantisation error of each type measured on these fixtures
 * (tiny random models, so a 4-bit type's error is large), with headroom.
 */
class GgufRoundTripTest {
    /** Bounds on the relative error per type; f32 and bf16 hold the bf16 weights exactly. */
    private static final Map<OutType, Double> BOUND = new EnumMap<>(Map.of(OutType.F32, 1e-5, OutType.BF16, 1e-5,
            OutType.F16, 2e-3, OutType.Q8_0, 3e-2, OutType.Q6_K, 6e-2, OutType.Q5_K_M, 0.15, OutType.Q4_K_M, 0.25,
            OutType.Q4_0, 0.25));

    @TempDir
    Path tmp;

    @Test
    void exportedLogitsMatchTransformersWithinEachTypesQuantisationError() throws Exception {
        List<String> table = new ArrayList<>();
        List<String> over = new ArrayList<>();
        for (String name : GgufFixtures.names()) {
            if (GgufFixtures.fixtures().get(name).has("synthetic") || name.equals("llama_sharded")) {
                continue; // no transformers reference of its own (llama_sharded is llama's weights)
            }
            Path model = GgufFixtures.assemble(name, tmp.resolve("models"));
            Map<OutType, Path> outputs = new LinkedHashMap<>();
            for (OutType t : OutType.values()) {
                if (!GgufFixtures.references().get(name).get(t.cliName()).has("error")) {
                    outputs.put(t, Files.createDirectories(tmp.resolve(name)).resolve(t.cliName() + ".gguf"));
                }
            }
            GgufExport.export(model, outputs, GgufFixtures.pre(name), GgufExportTest.quiet());
            int[][] ids;
            float[] reference;
            try (SafetensorsFile ref = SafetensorsFile.open(GgufFixtures.MODELS.resolve(name).resolve("reference.safetensors"))) {
                ids = ids(ref.tensor("input_ids"));
                reference = ref.tensor("logits").toFloatArray();
            }
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-18s", name));
            for (Map.Entry<OutType, Path> o : outputs.entrySet()) {
                float[] logits;
                try (Transformer t = GgufModel.transformer(o.getValue())) {
                    logits = t.forward(ids, t.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
                }
                double err = relativeError(logits, reference);
                row.append(String.format(Locale.ROOT, " %s=%.2e", o.getKey().cliName(), err));
                if (!(err <= BOUND.get(o.getKey()))) {
                    over.add(name + " " + o.getKey().cliName() + ": " + err);
                }
            }
            table.add(row.toString());
        }
        System.out.println("GGUF round trip, max|Δlogit|/max|logit| vs transformers:\n" + String.join("\n", table));
        assertEquals(List.of(), over);
    }

    static double relativeError(float[] a, float[] ref) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxDiff / maxRef;
    }

    static int[][] ids(Tensor t) {
        int rows = (int) t.dim(0);
        int cols = (int) t.dim(1);
        int[][] ids = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                ids[r][c] = (int) t.getLong((long) r * cols + c);
            }
        }
        return ids;
    }
}
