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
 * model (testdata/hf/models/&lt;arch&gt;/reference.safetensors), for every fixture and type, and against Crucible's
 * own logits of the safetensors model for the kquant fixture (rows of 256: real k-quant blocks). The float types
 * must agree per fixture to float32 rounding (max |Δ| / max |logit| under 1e-5); a quantised type's error is
 * pooled over all fixtures (tiny random models make one fixture's error noisy): relative RMS
 * ||Δ||₂ / ||logits||₂, bounded by what was measured with headroom.
 */
class GgufRoundTripTest {
    /**
     * Bounds on the pooled relative RMS error of the quantised types, about 1.5x what was measured with the native
     * kernels, whose 8-bit activations add to the weights' error as llama.cpp's do (q8_0 2.3e-2, q6_k 2.3e-2,
     * q5_k_m 9.5e-2, q4_k_m 9.6e-2, q4_0 0.20; f32, f16 and bf16 5e-7), and met by the Java kernels' float products
     * too (the second surefire run: q8_0 1.6e-2, q6_k 1.6e-2, q5_k_m 9.4e-2, q4_k_m 9.5e-2). On the 64-wide
     * fixtures the k-quants fall back to Q5_0/Q5_1/Q8_0 rows, so only the kquant fixture measures the k-quant blocks.
     */
    private static final Map<OutType, Double> BOUND = new EnumMap<>(Map.of(OutType.Q8_0, 0.035, OutType.Q6_K, 0.035,
            OutType.Q5_K_M, 0.15, OutType.Q4_K_M, 0.15, OutType.Q4_0, 0.3));

    @TempDir
    Path tmp;

    @Test
    void exportedLogitsMatchWithinEachTypesQuantisationError() throws Exception {
        List<String> table = new ArrayList<>();
        List<String> over = new ArrayList<>();
        Map<OutType, double[]> pooled = new EnumMap<>(OutType.class); // {sum Δ², sum ref²}
        for (String name : GgufFixtures.names()) {
            if (name.equals("llama_sharded")) {
                continue; // llama's weights again
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
            Path refFile = GgufFixtures.MODELS.resolve(name).resolve("reference.safetensors");
            if (Files.exists(refFile)) {
                try (SafetensorsFile ref = SafetensorsFile.open(refFile)) {
                    ids = ids(ref.tensor("input_ids"));
                    reference = ref.tensor("logits").toFloatArray();
                }
            } else { // the synthetic kquant model: Crucible's logits of the safetensors model
                ids = new int[][] {{1, 17, 300, 42, 511, 7, 99, 250, 3, 128, 64, 2}, {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
                try (Transformer t = Transformer.load(model)) {
                    reference = t.forward(ids, t.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
                }
            }
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-18s", name));
            for (Map.Entry<OutType, Path> o : outputs.entrySet()) {
                float[] logits;
                try (Transformer t = GgufModel.transformer(o.getValue())) {
                    logits = t.forward(ids, t.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
                }
                double err = relativeError(logits, reference);
                row.append(String.format(Locale.ROOT, " %s=%.1e", o.getKey().cliName(), err));
                double[] acc = pooled.computeIfAbsent(o.getKey(), k -> new double[2]);
                for (int i = 0; i < logits.length; i++) {
                    double d = logits[i] - reference[i];
                    acc[0] += d * d;
                    acc[1] += (double) reference[i] * reference[i];
                }
                boolean exact = o.getKey() == OutType.F32 || o.getKey() == OutType.BF16 || o.getKey() == OutType.F16;
                if (exact && !(err <= 1e-5)) {
                    over.add(name + " " + o.getKey().cliName() + ": max relative " + err);
                }
            }
            table.add(row.toString());
        }
        StringBuilder rms = new StringBuilder("pooled relative RMS:");
        pooled.forEach((t, acc) -> {
            double r = Math.sqrt(acc[0] / acc[1]);
            rms.append(String.format(Locale.ROOT, " %s=%.2e", t.cliName(), r));
            if (BOUND.containsKey(t) && !(r <= BOUND.get(t))) {
                over.add(t.cliName() + ": pooled relative RMS " + r);
            }
        });
        System.out.println("GGUF round trip, max|Δlogit|/max|logit| per fixture:\n" + String.join("\n", table) + "\n" + rms);
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
