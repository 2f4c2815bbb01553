package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crucible extract-lora} against mergekit-extract-lora's fixture (ft1 against base, rank 8): the same
 * tensors; full-rank modules bit-identical; {@code B @ A} equal to mergekit's within bf16 storage error (A and B
 * alone differ by the SVD's sign/rotation freedom). On float32 models whose deltas have known low rank the
 * product reproduces the delta and the ranks land in {@code r} / {@code rank_pattern}.
 */
class ExtractLoraTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void matchesMergekitsAdapter() throws IOException {
        Path out = tmp.resolve("extract_lora_r8");
        CliRun r = CliRun.of("extract-lora", "--model", "models/tiny-ft1", "--base-model", "models/tiny-base",
                "--out-path", out.toString(), "--max-rank", "8", "--random-seed", "42", "--quiet", "--no-copy-tokenizer",
                "--base-dir", FIXTURES.toString());
        assertEquals(0, r.exitCode(), r.err());
        Path want = FIXTURES.resolve("outputs/extract_lora_r8");
        double worst = 0;
        try (SafetensorsFile a = SafetensorsFile.open(want.resolve("adapter_model.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            assertEquals(new TreeSet<>(a.tensors().keySet()), new TreeSet<>(b.tensors().keySet()));
            for (String name : a.tensors().keySet()) {
                assertEquals(a.tensor(name).dtype(), b.tensor(name).dtype(), name);
                assertArrayEquals(a.tensor(name).shape(), b.tensor(name).shape(), name);
                if (name.contains(".lora_A.")) {
                    String bName = name.replace(".lora_A.", ".lora_B.");
                    double rel = relativeDifference(product(a.tensor(bName), a.tensor(name)),
                            product(b.tensor(bName), b.tensor(name)));
                    worst = Math.max(worst, rel);
                } else if (!name.contains(".lora_B.")) {
                    assertTrue(a.tensor(name).data().mismatch(b.tensor(name).data()) < 0, name + " differs");
                }
            }
        }
        System.out.printf("extract_lora_r8: worst relative Frobenius difference of B@A to mergekit's %.2e%n", worst);
        assertTrue(worst < 2e-3, "B@A differs from mergekit's by " + worst);

        JsonNode got = JSON.readTree(out.resolve("adapter_config.json").toFile());
        JsonNode exp = JSON.readTree(want.resolve("adapter_config.json").toFile());
        for (var it = exp.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (k.equals("target_modules")) { // a Python set in mergekit: any order
                assertEquals(set(exp.get(k)), set(got.get(k)));
            } else {
                assertEquals(exp.get(k), got.get(k), "adapter_config.json " + k);
            }
        }
        String card = Files.readString(out.resolve("README.md"));
        String wantCard = Files.readString(want.resolve("README.md"));
        assertEquals(wantCard.substring(0, wantCard.indexOf("```sh")).replace("# extract_lora_r8", "# " + out.getFileName()),
                card.substring(0, card.indexOf("```sh")));
    }

    /**
     * Float32 models whose deltas are exactly rank 3 (attention, gate, up) and rank 2 (down): the adapter
     * reproduces each delta, with r = 3 and the rank-2 module in rank_pattern / alpha_pattern (sv-epsilon drops
     * the zero singular values; -i limits the extraction to layer 1); --no-distribute-scale puts all of S into A.
     */
    @Test
    void lowRankDeltasAreReproducedWithTheirRanks() throws IOException {
        Path base = tmp.resolve("base");
        Path ft = tmp.resolve("ft");
        Map<String, float[]> deltas = writeLowRankPair(FIXTURES.resolve("models/tiny-base"), base, ft);
        for (boolean distribute : new boolean[] {true, false}) {
            Path out = tmp.resolve("lora-" + distribute);
            CliRun r = CliRun.of("extract-lora", "--model", ft.toString(), "--base-model", base.toString(), "--out-path",
                    out.toString(), "--max-rank", "8", "--sv-epsilon", "1e-4", "--quiet", "-i", "layers\\.1\\.",
                    distribute ? "--distribute-scale" : "--no-distribute-scale");
            assertEquals(0, r.exitCode(), r.err());
            JsonNode cfg = JSON.readTree(out.resolve("adapter_config.json").toFile());
            assertEquals(3, cfg.get("r").asInt());
            assertEquals(1, cfg.get("rank_pattern").size());
            assertEquals(2, cfg.get("rank_pattern").get("model.layers.1.mlp.down_proj").asInt());
            assertEquals(cfg.get("rank_pattern"), cfg.get("alpha_pattern"));
            try (SafetensorsFile f = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
                for (var e : deltas.entrySet()) {
                    String p = "base_model.model." + e.getKey().replace(".weight", "");
                    Tensor a = f.tensor(p + ".lora_A.weight");
                    Tensor b = f.tensor(p + ".lora_B.weight");
                    assertEquals(DType.F32, a.dtype());
                    assertEquals(e.getKey().contains("down_proj") ? 2 : 3, a.dim(0), e.getKey());
                    double rel = relativeDifference(e.getValue(), product(b, a));
                    assertTrue(rel < 1e-5, e.getKey() + " B@A vs delta " + rel);
                    double normA = frobenius(a.toFloatArray());
                    double normB = frobenius(b.toFloatArray());
                    if (distribute) {
                        assertEquals(normA, normB, 1e-4 * normA, "sqrt(S) on both sides");
                    } else {
                        assertEquals(Math.sqrt(a.dim(0)), normB, 1e-4, "B = U has orthonormal columns");
                    }
                }
            }
        }
    }

    /**
     * Crucible consumes what it writes (issue 10 item 7): a full-rank extraction of ft1 against the base, with its
     * modules_to_save (embeddings, norms, lm_head), folds back through {@code lora merge} into ft1's weights, and a
     * {@code base+adapter} model in a merge config gives the same bytes as {@code lora merge}.
     */
    @Test
    void anExtractedAdapterWithModulesToSaveFoldsBackIntoTheFineTune() throws IOException {
        Path base = FIXTURES.resolve("models/tiny-base");
        Path ft = FIXTURES.resolve("models/tiny-ft1");
        Path adapter = tmp.resolve("adapter");
        CliRun r = CliRun.of("extract-lora", "--model", ft.toString(), "--base-model", base.toString(), "--out-path",
                adapter.toString(), "--max-rank", "64", "--quiet", "--no-copy-tokenizer");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(JSON.readTree(adapter.resolve("adapter_config.json").toFile()).get("modules_to_save").size() > 0);

        Path merged = tmp.resolve("merged");
        r = CliRun.of("lora", "merge", base.toString(), adapter.toString(), merged.toString(), "--dtype", "float32");
        assertEquals(0, r.exitCode(), r.err());
        double worst = 0;
        try (Checkpoint want = Checkpoint.open(ft); Checkpoint got = Checkpoint.open(merged)) {
            assertEquals(new TreeSet<>(want.names()), new TreeSet<>(got.names()));
            for (String name : want.names()) {
                float[] w = want.tensor(name).toFloatArray();
                float[] g = got.tensor(name).toFloatArray();
                if (name.contains("norm") || name.contains("embed") || name.contains("lm_head")) {
                    assertArrayEquals(w, g, name + ": a saved module is the fine-tune's own tensor");
                } else {
                    worst = Math.max(worst, relativeDifference(w, g));
                }
            }
        }
        System.out.printf("extract-lora -> lora merge: worst relative difference to ft1 %.2e%n", worst);
        // A and B are stored in the models' bf16, as mergekit stores them: the fold carries their rounding (2^-8)
        assertTrue(worst < 5e-3, "folded full-rank adapter differs from ft1 by " + worst);

        Path config = tmp.resolve("plus.yml");
        Files.writeString(config, """
                models:
                  - model: %s+%s
                    parameters:
                      weight: 1.0
                merge_method: linear
                dtype: float32
                """.formatted(base, adapter));
        Path viaMerge = tmp.resolve("via-merge");
        r = CliRun.of("merge", config.toString(), viaMerge.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        try (Checkpoint a = Checkpoint.open(merged); Checkpoint b = Checkpoint.open(viaMerge)) {
            for (String name : a.names()) {
                assertArrayEquals(a.tensor(name).toFloatArray(), b.tensor(name).toFloatArray(), name);
            }
        }
    }

    @Test
    void badInputsFailBeforeWriting() throws IOException {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("extract-lora", "--model", "models/tiny-ft1", "--base-model", "models/tiny-base",
                "--out-path", out.toString(), "--max-rank", "0", "--base-dir", FIXTURES.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--max-rank: must be at least 1"), r.err());
        r = CliRun.of("extract-lora", "--model", "models/nope", "--base-model", "models/tiny-base",
                "--out-path", out.toString(), "--base-dir", FIXTURES.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--model: model directory 'models/nope' not found"), r.err());
        r = CliRun.of("extract-lora", "--model", "models/tiny-ft1", "--base-model",
                Path.of("testdata/hf/models/llama").toAbsolutePath().toString(), "--out-path", out.toString(),
                "--base-dir", FIXTURES.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64] in --model but"
                + " [176, 64] in --base-model"), r.err());
        r = CliRun.of("extract-lora", "--model", "models/tiny-ft1", "--base-model", "models/tiny-base",
                "--out-path", out.toString(), "-e", "(", "--base-dir", FIXTURES.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--exclude-regex: not a valid regular expression '('"), r.err());
        assertFalse(Files.exists(out));
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(), files.toList());
        }
    }

    /**
     * Layers 256 wide (q/o_proj 256x256, MLP 256x384) take the randomized SVD: deltas of rank 3 (rank 2 for
     * down_proj) come back to float32 precision, and --sv-epsilon cuts the rank at the zero tail as on the exact path.
     */
    @Test
    void wideLayersTakeTheRandomizedPathWithTheirRanks() throws IOException {
        Path synth = tmp.resolve("synth");
        SyntheticModels.write(synth, new SyntheticModels.Shape(256, 384, 2, 4, 2, 64), 1, 0, 0, 1);
        Path base = tmp.resolve("base");
        Path ft = tmp.resolve("ft");
        Map<String, float[]> deltas = writeLowRankPair(synth, base, ft);
        Path out = tmp.resolve("lora");
        CliRun r = CliRun.of("extract-lora", "--model", ft.toString(), "--base-model", base.toString(), "--out-path",
                out.toString(), "--max-rank", "16", "--sv-epsilon", "1e-4", "--random-seed", "3", "--quiet",
                "-i", "layers\\.1\\.");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode cfg = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertEquals(3, cfg.get("r").asInt());
        assertEquals(2, cfg.get("rank_pattern").get("model.layers.1.mlp.down_proj").asInt());
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            for (var e : deltas.entrySet()) {
                String p = "base_model.model." + e.getKey().replace(".weight", "");
                Tensor a = f.tensor(p + ".lora_A.weight");
                Tensor b = f.tensor(p + ".lora_B.weight");
                assertEquals(e.getKey().contains("down_proj") ? 2 : 3, a.dim(0), e.getKey());
                double rel = relativeDifference(e.getValue(), product(b, a));
                assertTrue(rel < 1e-5, e.getKey() + " B@A vs delta " + rel);
            }
        }
    }

    /** Writes float32 copies of {@code src} and of it plus low-rank deltas in layer 1; returns the deltas. */
    private static Map<String, float[]> writeLowRankPair(Path src, Path base, Path ft) throws IOException {
        Map<String, float[]> deltas = new LinkedHashMap<>();
        Map<String, Tensor> b = new LinkedHashMap<>();
        Map<String, Tensor> f = new LinkedHashMap<>();
        Random rnd = new Random(5);
        try (Checkpoint ckpt = Checkpoint.open(src)) {
            for (String name : ckpt.names()) {
                float[] w = ckpt.tensor(name).toFloatArray();
                long[] shape = ckpt.tensor(name).shape();
                b.put(name, Tensor.fromFloats(DType.F32, w, shape));
                float[] changed = w.clone();
                if (name.startsWith("model.layers.1.") && shape.length == 2) {
                    int rank = name.contains("down_proj") ? 2 : 3;
                    float[] d = lowRank((int) shape[0], (int) shape[1], rank, rnd);
                    for (int i = 0; i < d.length; i++) {
                        changed[i] = w[i] + d[i];
                        d[i] = changed[i] - w[i]; // the delta float32 can represent
                    }
                    deltas.put(name, d);
                }
                f.put(name, Tensor.fromFloats(DType.F32, changed, shape));
            }
        }
        for (Path dir : new Path[] {base, ft}) {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), Files.readString(src.resolve("config.json"))
                    .replace("\"bfloat16\"", "\"float32\""));
        }
        SafetensorsWriter.write(base.resolve("model.safetensors"), b);
        SafetensorsWriter.write(ft.resolve("model.safetensors"), f);
        return deltas;
    }

    private static float[] lowRank(int rows, int cols, int rank, Random rnd) {
        float[] out = new float[rows * cols];
        for (int k = 0; k < rank; k++) {
            double[] u = new double[rows];
            double[] v = new double[cols];
            for (int i = 0; i < rows; i++) {
                u[i] = rnd.nextGaussian() * 0.1;
            }
            for (int j = 0; j < cols; j++) {
                v[j] = rnd.nextGaussian() * 0.1;
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    out[i * cols + j] += (float) (u[i] * v[j]);
                }
            }
        }
        return out;
    }

    /** B @ A as a flat [rows * cols] array. */
    private static float[] product(Tensor b, Tensor a) {
        int rows = (int) b.dim(0);
        int rank = (int) b.dim(1);
        int cols = (int) a.dim(1);
        float[] x = b.toFloatArray();
        float[] y = a.toFloatArray();
        float[] out = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int k = 0; k < rank; k++) {
                    s += (double) x[i * rank + k] * y[k * cols + j];
                }
                out[i * cols + j] = (float) s;
            }
        }
        return out;
    }

    private static double relativeDifference(float[] reference, float[] actual) {
        double d = 0;
        for (int i = 0; i < reference.length; i++) {
            d += (reference[i] - actual[i]) * (double) (reference[i] - actual[i]);
        }
        return Math.sqrt(d) / frobenius(reference);
    }

    private static double frobenius(float[] x) {
        double s = 0;
        for (float v : x) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static Set<String> set(JsonNode array) {
        Set<String> out = new HashSet<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
