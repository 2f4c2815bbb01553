package dev.crucible.merge;

import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The {@code crucible merge} command on real inputs: errors, frankenmerges, threads, LoRA, failures, dry runs. */
class MergeCommandTest {
    @TempDir
    Path tmp;

    private CliRun merge(String yaml, Path out, String... extra) throws Exception {
        Path cfg = tmp.resolve("config-" + System.nanoTime() + ".yml");
        Files.writeString(cfg, yaml);
        List<String> args = new ArrayList<>(List.of("merge", cfg.toString(), out.toString(), "--base-dir",
                FIXTURES.toString(), "--quiet"));
        args.addAll(List.of(extra));
        return crucible(args.toArray(String[]::new));
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "merge_methd: linear\\nmodels:\\n  - model: models/tiny-ft1| merge_method: required",
            "merge_method: frobnicate\\nmodels:\\n  - model: models/tiny-ft1| unknown merge_method 'frobnicate'",
            "merge_method: linear\\nmodels:\\n  - model: models/tiny-ft1\\n  - model: models/tiny-ft2\\n    parameters: {weight: 1}| parameter 'weight' is required",
            "merge_method: linear\\nslices:\\n  - sources:\\n      - model: models/tiny-ft1\\n        layer_range: [0, 9]\\nparameters: {weight: 1}| slices[0].sources[0].layer_range: [0, 9] is out of bounds",
            "merge_method: linear\\nslices:\\n  - sources:\\n      - model: models/tiny-ft1\\n        layer_range: [0, 3]\\n      - model: ../hf/models/llama\\n        layer_range: [0, 3]\\nparameters: {weight: 1}| pass --allow-crimes",
            "merge_method: linear\\nmodels:\\n  - model: ../hf/models/llama\\n    parameters: {weight: 1}\\n  - model: ../hf/models/mistral\\n    parameters: {weight: 1}| architecture MistralForCausalLM (mistral) differs from ../hf/models/llama's LlamaForCausalLM; pass --allow-crimes",
            "merge_method: linear\\nmodels:\\n  - model: models/no-such-model\\n    parameters: {weight: 1}| models[0].model: model directory 'models/no-such-model' not found",
            "merge_method: linear\\nmodels:\\n  - model: mistralai/Mistral-7B-v0.1\\n    parameters: {weight: 1}| huggingface-cli download mistralai/Mistral-7B-v0.1",
            "merge_method: linear\\nmodels:\\n  - model: models/tiny-ft1\\n    parameters: {weight: 1}\\ndtype: int8| dtype: expected bfloat16, float16 or float32",
            "merge_method: linear\\nmodels:\\n  - model: models/tiny-ft1\\n    parameters:\\n      weight: [{filter: mlp, valu: 1}]| weight[0]: conditional entry needs a 'value'",
            "merge_method: linear\\nmodels:\\n  - model: models/tiny-ft1\\n    parameters: {weight: 1}\\ntokenizer: {source: union, pad_to_multiple_of: 0}| tokenizer.pad_to_multiple_of",
            "merge_method: linear\\nmodels:\\n  - model: models/tiny-ft1\\n    parameters: {weight: 1}\\nchat_template: nonsense| chat_template: 'nonsense'",
    })
    void badConfigsFailBeforeAnythingIsWritten(String yaml, String message) throws Exception {
        Path out = tmp.resolve("out");
        var r = merge(yaml.replace("\\n", "\n"), out);
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertTrue(r.err().contains(message.trim()), r.err());
        assertFalse(Files.exists(out));
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".out")), "no staging leftovers");
        }
    }

    @Test
    void frankenmergeSlicesMatchMergekitsPassthrough() throws Exception {
        // Single-source slices with weight 1 copy tensors exactly, so the slice/renumbering logic must reproduce
        // mergekit's passthrough output bit for bit whatever method runs them.
        String yaml = Files.readString(FIXTURES.resolve("configs/passthrough.yml"))
                .replace("merge_method: passthrough", "merge_method: linear\nparameters: {weight: 1.0}");
        Path out = tmp.resolve("franken");
        var r = merge(yaml, out, "--no-copy-tokenizer");
        assertEquals(0, r.exitCode(), r.err());
        MergeFidelityTest.compareTensors(FIXTURES.resolve("outputs/passthrough"), out, true);
        String config = Files.readString(out.resolve("config.json"));
        assertTrue(config.contains("\"num_hidden_layers\" : 6"), config);
    }

    @Test
    void repeatedLayersAreRenumbered() throws Exception {
        String yaml = """
                merge_method: linear
                parameters: {weight: 1.0}
                slices:
                  - sources: [{model: models/tiny-ft1, layer_range: [0, 2]}]
                  - sources: [{model: models/tiny-ft1, layer_range: [1, 3]}]
                  - sources: [{model: models/tiny-ft1, layer_range: [1, 3]}]
                dtype: bfloat16
                """;
        Path out = tmp.resolve("repeat");
        assertEquals(0, merge(yaml, out, "--no-copy-tokenizer").exitCode());
        try (Checkpoint c = Checkpoint.open(out); Checkpoint src = Checkpoint.open(FIXTURES.resolve("models/tiny-ft1"))) {
            int[] sourceLayer = {0, 1, 1, 2, 1, 2};
            for (int l = 0; l < 6; l++) {
                for (String w : List.of("self_attn.q_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight")) {
                    assertArrayEquals(src.tensor("model.layers." + sourceLayer[l] + "." + w).toFloatArray(),
                            c.tensor("model.layers." + l + "." + w).toFloatArray(), "layer " + l + " " + w);
                }
            }
            assertFalse(c.contains("model.layers.6.self_attn.q_proj.weight"));
        }
    }

    @Test
    void threadCountAndShardingDoNotChangeTheBytes() throws Exception {
        String yaml = Files.readString(FIXTURES.resolve("configs/linear.yml"));
        Path one = tmp.resolve("one");
        Path many = tmp.resolve("many");
        assertEquals(0, merge(yaml, one, "--threads", "1", "--out-shard-size", "100K").exitCode());
        // --fsync only forces the data to disk: same bytes
        assertEquals(0, merge(yaml, many, "--threads", "4", "--out-shard-size", "100K", "--memory-budget", "64K",
                "--fsync").exitCode());
        List<String> files;
        try (var s = Files.list(one)) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertTrue(files.contains("model.safetensors.index.json"), files.toString());
        assertTrue(files.stream().filter(f -> f.endsWith(".safetensors")).count() > 1, files.toString());
        for (String f : files) {
            if (!f.equals("README.md")) {
                assertArrayEquals(Files.readAllBytes(one.resolve(f)), Files.readAllBytes(many.resolve(f)), f);
            }
        }
        MergeFidelityTest.compareTensors(FIXTURES.resolve("outputs/linear"), many, true);
    }

    @ParameterizedTest
    @CsvSource({"lora", "rslora", "dora"})
    void loraAdaptersApplyOnTheFly(String kind) throws Exception {
        String yaml = "merge_method: linear\nmodels:\n  - model: ../hf/models/llama+../hf/adapters/" + kind
                + "\n    parameters: {weight: 1.0}\ndtype: float32\n";
        Path out = tmp.resolve(kind);
        var r = merge(yaml, out);
        assertEquals(0, r.exitCode(), r.err());
        Path reference = FIXTURES.resolve("../hf/adapters/" + kind + "_merged").normalize();
        try (Checkpoint exp = Checkpoint.open(reference); Checkpoint act = Checkpoint.open(out)) {
            assertEquals(new TreeSet<>(exp.names()), new TreeSet<>(act.names()));
            boolean anyChanged = false;
            try (Checkpoint base = Checkpoint.open(FIXTURES.resolve("../hf/models/llama").normalize())) {
                for (String n : exp.names()) {
                    float[] e = exp.tensor(n).toFloatArray();
                    float[] a = act.tensor(n).toFloatArray();
                    float[] b = base.tensor(n).toFloatArray();
                    for (int i = 0; i < e.length; i++) {
                        assertEquals(e[i], a[i], 1e-5f + 1e-5f * Math.abs(e[i]), n + "[" + i + "]");
                        anyChanged |= a[i] != b[i];
                    }
                }
            }
            assertTrue(anyChanged, "the adapter changed some weights");
        }
    }

    @ParameterizedTest
    @CsvSource({"linear", "passthrough"})
    void doraOnTheFlyEqualsLoraMergeCommand(String method) throws Exception {
        Path adapter = FIXTURES.resolve("../hf/adapters/dora").normalize();
        Path base = FIXTURES.resolve("../hf/models/llama").normalize();
        Path folded = tmp.resolve("lora-merge");
        var fold = crucible("lora", "merge", base.toString(), adapter.toString(), folded.toString(), "--dtype", "float32");
        assertEquals(0, fold.exitCode(), fold.err());
        String yaml = "merge_method: " + method + "\nmodels:\n  - model: " + base + "+" + adapter
                + (method.equals("linear") ? "\n    parameters: {weight: 1.0}" : "") + "\ndtype: float32\n";
        Path out = tmp.resolve(method);
        var r = merge(yaml, out);
        assertEquals(0, r.exitCode(), r.err());
        try (Checkpoint exp = Checkpoint.open(folded); Checkpoint act = Checkpoint.open(out)) {
            assertEquals(new TreeSet<>(exp.names()), new TreeSet<>(act.names()));
            for (String n : exp.names()) {
                // one folding implementation behind both commands, and linear with weight 1 is exact: same bits
                assertArrayEquals(exp.tensor(n).toFloatArray(), act.tensor(n).toFloatArray(), n);
            }
        }
    }

    @Test
    void doraAdapterWithAWrongMagnitudeShapeFailsNamingFileAndModule() throws Exception {
        Path source = FIXTURES.resolve("../hf/adapters/dora").normalize();
        Path adapter = tmp.resolve("bad-dora");
        Files.createDirectories(adapter);
        Files.copy(source.resolve("adapter_config.json"), adapter.resolve("adapter_config.json"));
        String module = "model.layers.1.mlp.up_proj";
        Map<String, Tensor> tensors = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(source.resolve("adapter_model.safetensors"))) {
            for (String name : sf.tensors().keySet()) {
                float[] v = sf.tensor(name).toFloatArray();
                long[] shape = sf.info(name).shape();
                if (name.equals("base_model.model." + module + ".lora_magnitude_vector")) {
                    v = Arrays.copyOf(v, v.length - 1);
                    shape = new long[]{v.length};
                }
                tensors.put(name, Tensor.ofFloats(v, shape));
            }
        }
        Path file = adapter.resolve("adapter_model.safetensors");
        SafetensorsWriter.write(file, tensors);
        Path out = tmp.resolve("never");
        var r = merge("merge_method: linear\nmodels:\n  - model: ../hf/models/llama+" + adapter
                + "\n    parameters: {weight: 1.0}\n", out);
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains(file.toString()) && r.err().contains("'" + module + "'")
                && r.err().contains("lora_magnitude_vector"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void failedMergeLeavesNoOutputAndKeepsAnOldOne() throws Exception {
        // An adapter whose q_proj matrices do not fit the model fails in the middle of the merge.
        Path adapter = tmp.resolve("broken-lora");
        Files.createDirectories(adapter);
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4}");
        String prefix = "base_model.model.model.layers.2.self_attn.q_proj.";
        List<TensorSpec> specs = List.of(new TensorSpec(prefix + "lora_A.weight", DType.F32, new long[]{2, 7}),
                new TensorSpec(prefix + "lora_B.weight", DType.F32, new long[]{64, 2}));
        try (ShardedWriter w = new ShardedWriter(adapter, specs, Long.MAX_VALUE, Map.of())) {
            w.write(specs.get(0).name(), Tensor.ofFloats(new float[14], 2, 7));
            w.write(specs.get(1).name(), Tensor.ofFloats(new float[128], 64, 2));
            w.finish();
        }
        Files.move(adapter.resolve("model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        Path out = tmp.resolve("existing");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "old result");
        String yaml = "merge_method: linear\nmodels:\n  - model: ../hf/models/llama+" + adapter
                + "\n    parameters: {weight: 1.0}\n";
        var r = merge(yaml, out, "--threads", "2", "--overwrite");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("q_proj"), r.err());
        try (var s = Files.list(out)) {
            assertEquals(List.of("keep.txt"), s.map(p -> p.getFileName().toString()).toList(), "no staging leftovers");
        }
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".existing")), "no staging leftovers");
        }
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothing() throws Exception {
        Path out = tmp.resolve("dry");
        var r = merge(Files.readString(FIXTURES.resolve("configs/slerp.yml")).replace("slerp", "linear")
                .replace("  t:", "  weight:"), out, "--dry-run");
        assertEquals(0, r.exitCode(), r.err());
        assertFalse(Files.exists(out));
        // Gradients spread over the 4 layers and filters pick the first match: layer 1 sits at t = 1/3.
        double scaled = (1.0 / 3) * 4;
        double frac = scaled - 1;
        double attn = (1 - frac) * 0.5 + frac * 0.3;
        double mlp = (1 - frac) * 0.5 + frac * 0.7;
        assertTrue(r.out().contains("model.layers.1.self_attn.q_proj.weight BF16[64, 64] <- 0:model.layers.1.self_attn"
                + ".q_proj.weight (base), 1:model.layers.1.self_attn.q_proj.weight  linear {normalize=true} 0:{weight="
                + attn + "} 1:{weight=" + attn + "}"), r.out());
        assertTrue(r.out().contains("model.layers.1.mlp.up_proj.weight BF16[128, 64] <- 0:model.layers.1.mlp.up_proj"
                + ".weight (base), 1:model.layers.1.mlp.up_proj.weight  linear {normalize=true} 0:{weight=" + mlp + "}"),
                r.out());
        // Non-layer tensors use t = 0 and the fallback entry.
        assertTrue(r.out().contains("model.norm.weight BF16[64] <- 0:model.norm.weight (base), 1:model.norm.weight  "
                + "linear {normalize=true} 0:{weight=0.5}"), r.out());
        assertTrue(r.out().contains("model.embed_tokens.weight BF16[256, 64]"), r.out());
        assertTrue(r.out().contains("bytes to read"), r.out());
        assertTrue(r.out().contains("estimated peak memory"), r.out());
    }

    /** Every file under the fixtures and the temporary directory, with size and modification time. */
    private Map<String, String> files() throws Exception {
        Map<String, String> files = new TreeMap<>();
        for (Path root : List.of(FIXTURES, tmp)) {
            try (var walk = Files.walk(root)) {
                for (Path p : walk.toList()) {
                    files.put(p.toString(), Files.isRegularFile(p)
                            ? Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis() : "dir");
                }
            }
        }
        return files;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"ties.yml", "slerp.yml", "linear_tokenizer_union.yml", "passthrough.yml"})
    void dryRunEstimatesTimeAndPeakOfTheMergeItThenRuns(String config) throws Exception {
        Path cfg = tmp.resolve(config);
        Files.copy(FIXTURES.resolve("configs").resolve(config), cfg);
        Path out = tmp.resolve("out");
        Map<String, String> before = files();
        CliRun dry = crucible("merge", cfg.toString(), out.toString(), "--base-dir", FIXTURES.toString(), "--dry-run");
        assertEquals(0, dry.exitCode(), dry.err());
        assertEquals(before, files(), "the dry run wrote or touched a file");
        var time = java.util.regex.Pattern.compile("expected wall time: ~([0-9.e+-]+) s \\(JVM start and planning [0-9.]+ s; (\\w+) at "
                + "([0-9.e+-]+) MB/s of input on this machine with [0-9]+ threads? at once, best of ([0-9]+) on (\\S+)\\[")
                .matcher(dry.out());
        assertTrue(time.find(), dry.out());
        for (int g : new int[] {1, 3, 4}) {
            assertTrue(Double.parseDouble(time.group(g)) > 0, time.group());
        }
        var peak = java.util.regex.Pattern.compile("estimated peak memory: ([0-9.]+) (kB|MB|GB)").matcher(dry.out());
        assertTrue(peak.find(), dry.out());
        assertTrue(Double.parseDouble(peak.group(1)) > 0, peak.group());
        var tensors = java.util.regex.Pattern.compile("output: ([0-9]+) tensors").matcher(dry.out());
        assertTrue(tensors.find(), dry.out());
        // The calibration tensor is a layer tensor; the real merge writes every tensor the plan promised.
        CliRun real = crucible("merge", cfg.toString(), out.toString(), "--base-dir", FIXTURES.toString(), "--quiet");
        assertEquals(0, real.exitCode(), real.err());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertEquals(Integer.parseInt(tensors.group(1)), merged.names().size());
            assertTrue(time.group(5).contains(".layers.") && merged.names().contains(time.group(5)), time.group(5));
        }
    }

    @Test
    void aDryRunRefusesTheOutputsTheRealRunRefuses() throws Exception {
        Path cfg = tmp.resolve("ties.yml");
        Files.copy(FIXTURES.resolve("configs").resolve("ties.yml"), cfg);
        Path inputModel = FIXTURES.resolve(MergeConfig.read(cfg, new Path[] {FIXTURES}).referencedModels().get(0).path());
        Path full = Files.createDirectories(tmp.resolve("full"));
        Files.writeString(full.resolve("notes.txt"), "mine");
        Map<String, String> before = files();
        CliRun intoInput = crucible("merge", cfg.toString(), inputModel.toString(), "--base-dir", FIXTURES.toString(),
                "--dry-run");
        assertEquals(1, intoInput.exitCode(), intoInput.out());
        assertTrue(intoInput.err().contains("is the input model") && intoInput.err().contains("would destroy it"),
                intoInput.err());
        CliRun intoFull = crucible("merge", cfg.toString(), full.toString(), "--base-dir", FIXTURES.toString(),
                "--dry-run");
        assertEquals(1, intoFull.exitCode(), intoFull.out());
        assertTrue(intoFull.err().contains("exists and is not empty"), intoFull.err());
        assertEquals(before, files(), "the dry runs wrote or touched a file");
    }
}
