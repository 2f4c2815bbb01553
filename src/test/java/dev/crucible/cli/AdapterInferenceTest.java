package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.eval.LanguageModel;
import dev.crucible.PythonInterop;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.DType;
import dev.crucible.peft.LoraMerge;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * generate, chat and eval on a base model plus a PEFT adapter, without a merged copy on disk (as
 * {@code axolotl inference --lora-model-dir} runs): the logits equal those of the model
 * {@code lora merge --dtype float32} writes and PEFT's own unmerged logits, to float rounding (the untouched weights
 * stay bf16, whose products round differently from float32 ones in the last bit).
 */
class AdapterInferenceTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    static final Path ADAPTERS = Path.of("testdata/hf/adapters");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static float[] logits(Transformer t, int[][] ids) {
        return t.forward(ids, t.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
    }

    /** max |got - want| / max |want|. */
    static double relativeError(float[] got, float[] want) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
            maxRef = Math.max(maxRef, Math.abs(want[i]));
        }
        return maxDiff / maxRef;
    }

    static int[][] inputIds(SafetensorsFile ref) {
        var t = ref.tensor("input_ids");
        int[][] ids = new int[(int) t.dim(0)][(int) t.dim(1)];
        for (int b = 0; b < ids.length; b++) {
            for (int i = 0; i < ids[b].length; i++) {
                ids[b][i] = (int) t.getLong((long) b * ids[b].length + i);
            }
        }
        return ids;
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void logitsEqualThoseOfTheMergedModel(String kind) throws IOException {
        Path base = modelAndAdapter()[0];
        Path adapter = ADAPTERS.resolve(kind);
        Path merged = tmp.resolve("merged-" + kind);
        LoraMerge.merge(base, adapter, merged, DType.F32, null, w -> { });
        try (SafetensorsFile ref = SafetensorsFile.open(adapter.resolve("reference.safetensors"));
             SafetensorsFile exact = SafetensorsFile.open(adapter.resolve("reference_f64.safetensors"));
             LanguageModel unmerged = new LanguageModel(base, adapter, null);
             Transformer m = Transformer.load(merged)) {
            int[][] ids = inputIds(ref);
            float[] ours = logits(unmerged.transformer(), ids);
            double vsMerged = relativeError(ours, logits(m, ids));
            // the same float32 weights through the same kernels: the same bits
            assertEquals(0.0, vsMerged, "lora merge --dtype float32's model: relative error " + vsMerged);
            double vsPeft = relativeError(ours, ref.tensor("logits").toFloatArray()); // PEFT, unmerged, float32
            double vsExact = relativeError(ours, exact.tensor("logits_f64").toFloatArray()); // PEFT in float64
            System.out.printf("%s: base + adapter vs PEFT's unmerged logits: float64 %.2e, float32 %.2e; vs the float32"
                    + " merged model %.2e%n", kind, vsExact, vsPeft, vsMerged);
            // against the exact (float64) result Crucible's float32 error stays below 1e-5 for every kind (4.2e-6 for
            // rsLoRA, 1.7e-6 LoRA, 3.9e-7 DoRA); PEFT's own float32 logits are off by up to 9.0e-6 (rsLoRA, whose scale
            // alpha/sqrt(r) is twice LoRA's), so the gap between the two float32 results can reach the sum of both
            assertTrue(vsExact < 1e-5, "relative error against float64 " + vsExact);
            assertTrue(vsPeft < 2e-5, "relative error " + vsPeft);
        }
    }

    /** A model directory with the byte-level fixture tokenizer, and a copy of the LoRA fixture naming it as its base. */
    private Path[] modelAndAdapter() throws IOException {
        Path base = TrainCommandTest.fixtureModel(tmp.resolve("base"));
        Path adapter = Files.createDirectories(tmp.resolve("adapter"));
        Files.copy(ADAPTERS.resolve("lora/adapter_model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        ObjectNode cfg = (ObjectNode) JSON.readTree(ADAPTERS.resolve("lora/adapter_config.json").toFile());
        cfg.put("base_model_name_or_path", base.toAbsolutePath().toString());
        Files.writeString(adapter.resolve("adapter_config.json"), cfg.toString());
        return new Path[] {base, adapter};
    }

    @Test
    void commandsTakeAnAdapterOrAnAdapterDirectoryAndMatchTheMergedModel() throws IOException {
        Path[] ma = modelAndAdapter();
        Path base = ma[0];
        Path adapter = ma[1];
        Path merged = tmp.resolve("merged");
        assertEquals(0, CliRun.of("lora", "merge", base.toString(), adapter.toString(), merged.toString(), "--dtype",
                "float32").exitCode());
        String[] prompt = {"--prompt", "the quick brown fox", "--max-new-tokens", "12"};
        CliRun fromMerged = CliRun.of(concat(new String[] {"generate", merged.toString()}, prompt));
        CliRun withFlag = CliRun.of(concat(new String[] {"generate", base.toString(), "--adapter", adapter.toString()}, prompt));
        CliRun direct = CliRun.of(concat(new String[] {"generate", adapter.toString()}, prompt));
        assertEquals(0, fromMerged.exitCode(), fromMerged.err());
        assertEquals(fromMerged.out(), withFlag.out());
        assertEquals(fromMerged.out(), direct.out());
        CliRun plainBase = CliRun.of(concat(new String[] {"generate", base.toString()}, prompt));
        assertTrue(!plainBase.out().equals(fromMerged.out()), "the adapter changes the continuation");

        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "the quick brown fox jumps over the lazy dog. ".repeat(6));
        CliRun pplMerged = CliRun.of("eval", "perplexity", merged.toString(), "--data", text.toString(), "--json");
        CliRun pplAdapter = CliRun.of("eval", "perplexity", base.toString(), "--adapter", adapter.toString(),
                "--data", text.toString(), "--json");
        assertEquals(0, pplAdapter.exitCode(), pplAdapter.err());
        double nllMerged = JSON.readTree(pplMerged.out()).get("nll").asDouble();
        double nllAdapter = JSON.readTree(pplAdapter.out()).get("nll").asDouble();
        assertEquals(nllMerged, nllAdapter, 1e-6 * nllMerged);
        double nllBase = JSON.readTree(CliRun.of("eval", "perplexity", base.toString(), "--data", text.toString(),
                "--json").out()).get("nll").asDouble();
        assertTrue(Math.abs(nllBase - nllAdapter) > 1e-3, "the adapter changes the loss");

        java.io.InputStream old = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("hi\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            CliRun chatMerged = CliRun.of("chat", merged.toString(), "--max-new-tokens", "6");
            System.setIn(new java.io.ByteArrayInputStream("hi\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            CliRun chatAdapter = CliRun.of("chat", base.toString(), "--adapter", adapter.toString(), "--max-new-tokens", "6");
            assertEquals(0, chatAdapter.exitCode(), chatAdapter.err());
            assertEquals(chatMerged.out(), chatAdapter.out());
        } finally {
            System.setIn(old);
        }
    }

    @Test
    void anAdapterWithoutALocalBaseOrAMismatchedBaseIsAClearError() throws IOException {
        CliRun noBase = CliRun.of("generate", ADAPTERS.resolve("lora").toString(), "--prompt", "hi");
        assertEquals(1, noBase.exitCode());
        assertTrue(noBase.err().contains("holds an adapter whose base model is not named; give the base model and the"
                + " adapter: MODEL_DIR --adapter"), noBase.err());
        Path[] ma = modelAndAdapter();
        Path other = Files.createDirectories(tmp.resolve("qwen3"));
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(Path.of("testdata/hf/models/qwen3").resolve(f), other.resolve(f));
        }
        Files.copy(TrainCommandTest.TOKENIZER.resolve("tokenizer.json"), other.resolve("tokenizer.json"));
        CliRun wrong = CliRun.of("generate", other.toString(), "--adapter", ma[1].toString(), "--prompt", "hi");
        assertEquals(1, wrong.exitCode());
        assertTrue(wrong.err().startsWith("error: ") && !wrong.err().contains("\tat "), wrong.err());
        CliRun notAdapter = CliRun.of("generate", ma[0].toString(), "--adapter", tmp.toString(), "--prompt", "hi");
        assertEquals(1, notAdapter.exitCode());
        assertTrue(notAdapter.err().contains("not a PEFT adapter directory"), notAdapter.err());
    }

    /**
     * An sft adapter with lora_modules_to_save: its output directory runs directly, equals the merged model, and PEFT
     * loads it (the saved lm_head replacing the base's) with the logits of Crucible's float32 merge.
     */
    @Test
    void anSftAdapterWithModulesToSaveRunsDirectlyAndPeftLoadsIt() throws IOException {
        Path[] ma = modelAndAdapter();
        Path base = ma[0];
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            rows.append("{\"messages\": [{\"role\": \"user\", \"content\": \"add ").append(i % 7).append(" and ").append(i % 5)
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(i % 7 + i % 5).append("\"}]}\n");
        }
        Files.writeString(tmp.resolve("chats.jsonl"), rows);
        Files.writeString(tmp.resolve("sft.yml"), """
                base_model: base
                datasets:
                  - path: chats.jsonl
                    type: messages
                sequence_len: 64
                adapter: lora
                lora_r: 4
                lora_alpha: 8
                lora_target_modules: [q_proj, v_proj]
                lora_modules_to_save: [lm_head]
                micro_batch_size: 4
                max_steps: 3
                learning_rate: 1e-2
                output_dir: out
                """);
        CliRun sft = CliRun.of("sft", tmp.resolve("sft.yml").toString());
        assertEquals(0, sft.exitCode(), sft.err());
        Path out = tmp.resolve("out");
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            assertTrue(f.contains("base_model.model.lm_head.weight"), f.tensors().keySet().toString());
        }
        assertTrue(Files.readString(out.resolve("adapter_config.json")).contains("\"modules_to_save\" : [ \"lm_head\" ]"));
        Path merged = tmp.resolve("merged");
        assertEquals(0, CliRun.of("lora", "merge", base.toString(), out.toString(), merged.toString(), "--dtype",
                "float32").exitCode());
        String[] prompt = {"--chat", "--prompt", "add 3 and 4", "--max-new-tokens", "6"};
        CliRun direct = CliRun.of(concat(new String[] {"generate", out.toString()}, prompt));
        assertEquals(0, direct.exitCode(), direct.err());
        assertEquals(CliRun.of(concat(new String[] {"generate", merged.toString()}, prompt)).out(), direct.out());

        PythonInterop.assumeModules("torch", "transformers", "peft", "safetensors");
        Path f32 = tmp.resolve("merged-f32");
        LoraMerge.merge(base, out, f32, DType.F32, null, w -> { });
        Path logitsFile = tmp.resolve("peft_logits.safetensors");
        int[][] ids = {{1, 20, 31, 44, 58, 67, 71, 82, 93, 104, 110, 123}};
        ObjectNode request = JSON.createObjectNode();
        request.put("base", base.toAbsolutePath().toString());
        request.put("adapter", out.toAbsolutePath().toString());
        request.put("out", logitsFile.toString());
        request.set("input_ids", JSON.valueToTree(ids));
        PythonInterop.runResource("peft_adapter_logits.py", tmp, List.of(), JSON.writeValueAsBytes(request),
                Duration.ofMinutes(5)).assertOk();
        try (SafetensorsFile peft = SafetensorsFile.open(logitsFile); Transformer t = Transformer.load(f32)) {
            double err = relativeError(logits(t, ids), peft.tensor("logits").toFloatArray());
            System.out.printf("modules_to_save adapter: PEFT vs Crucible's float32 merge, relative error %.2e%n", err);
            assertTrue(err < 1e-5, "relative error " + err);
        }
    }

    /**
     * The fixture's embedding has 512 rows, its tokenizer 504 tokens: a sampled id past the tokenizer decodes to
     * nothing, as transformers' decode skips it, instead of failing the generation.
     */
    @Test
    void idsBeyondTheTokenizerDecodeToNothing() throws IOException {
        Path base = modelAndAdapter()[0];
        CliRun r = CliRun.of("generate", base.toString(), "--prompt", "hi", "--max-new-tokens", "100");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(!r.out().isBlank() && !r.err().contains("not in the vocabulary"), r.err());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
