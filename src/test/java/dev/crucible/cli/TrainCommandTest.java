package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.data.DatasetRow;
import dev.crucible.data.DatasetType;
import dev.crucible.data.ExampleBuilder;
import dev.crucible.data.SftExample;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.LoraAdapter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainCommandTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    static final Path TOKENIZER = Path.of("testdata/hf/tokenizers/bytelevel_bpe");

    @TempDir
    Path tmp;
    Path model;

    /**
     * Makes {@code dir} a model directory: the Llama fixture with the byte-level BPE fixture tokenizer and its ChatML
     * template (509 ids, within its 512-row vocabulary).
     */
    static Path fixtureModel(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(LLAMA.resolve(f), dir.resolve(f));
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(TOKENIZER.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    /** {@code count} chats "add a and b" -> "a+b" (a = i mod 7, b = i mod 5) as a messages JSONL file. */
    static void writeChats(Path file, int count) throws IOException {
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < count; i++) {
            int a = i % 7;
            int b = i % 5;
            rows.append("{\"messages\": [{\"role\": \"user\", \"content\": \"add ").append(a).append(" and ").append(b)
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(a + b).append("\"}]}\n");
        }
        Files.writeString(file, rows);
    }

    @BeforeEach
    void model() throws IOException {
        model = fixtureModel(tmp.resolve("model"));
    }

    Path config(String extra) throws IOException {
        writeChats(tmp.resolve("chats.jsonl"), 24);
        Path cfg = tmp.resolve("sft.yml");
        Files.writeString(cfg, """
                base_model: model
                datasets:
                  - path: chats.jsonl
                    type: messages
                sequence_len: 64
                adapter: lora
                lora_r: 8
                lora_alpha: 16
                lora_target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
                micro_batch_size: 4
                gradient_accumulation_steps: 1
                max_steps: 6
                learning_rate: 3e-2
                lr_scheduler: cosine
                warmup_steps: 1
                val_set_size: 4
                seed: 3
                output_dir: out
                """ + extra);
        return cfg;
    }

    @Test
    void sftTrainsALoraAdapterFromAMessagesDataset() throws IOException {
        CliRun run = CliRun.of("sft", config("").toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("20 training and 4 validation examples, 6 steps"), run.out());
        assertTrue(run.err().contains("step 6/6"), run.err());
        Path out = tmp.resolve("out");
        assertEquals(21, LoraAdapter.load(out).modules().size());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(6, metrics.size());
        JsonNode first = new ObjectMapper().readTree(metrics.get(0));
        JsonNode last = new ObjectMapper().readTree(metrics.get(5));
        assertTrue(last.get("loss").asDouble() < first.get("loss").asDouble(), metrics.toString());
        assertTrue(last.has("eval_loss"));
        assertTrue(Files.readString(out.resolve("loss.html")).contains("<svg"));
    }

    /** Sample packing: several examples per sequence (block-diagonal attention), and the validation loss falls. */
    @Test
    void samplePackingTrainsOnPackedSequencesAndLowersValidationLoss() throws IOException {
        Path cfg = config("sample_packing: true\neval_steps: 3\n");
        Files.writeString(cfg, Files.readString(cfg).replace("sequence_len: 64", "sequence_len: 160")
                .replace("micro_batch_size: 4", "micro_batch_size: 2"));
        CliRun run = CliRun.of("sft", cfg.toString());
        assertEquals(0, run.exitCode(), run.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) training and (\\d+) validation packed sequences")
                .matcher(run.out());
        assertTrue(m.find(), run.out());
        assertTrue(Integer.parseInt(m.group(1)) < 20 && Integer.parseInt(m.group(2)) < 4, "examples share sequences: " + run.out());
        assertTrue(run.out().contains("truncated to sequence_len 160: 0 examples"), run.out());
        List<String> metrics = Files.readAllLines(tmp.resolve("out").resolve("metrics.jsonl"));
        double first = new ObjectMapper().readTree(metrics.get(2)).get("eval_loss").asDouble();
        double last = new ObjectMapper().readTree(metrics.get(5)).get("eval_loss").asDouble();
        assertTrue(last < first, metrics.toString());
    }

    /** examples/sft/lora.yml as shipped (fewer steps): it parses, packs, trains and lowers the validation loss. */
    @Test
    void theShippedExampleConfigTrains() throws IOException {
        Path dir = tmp.resolve("examples/sft");
        Files.createDirectories(dir);
        Files.copy(Path.of("examples/sft/arithmetic.jsonl"), dir.resolve("arithmetic.jsonl"));
        Files.writeString(dir.resolve("lora.yml"), Files.readString(Path.of("examples/sft/lora.yml"))
                .replace("max_steps: 400", "max_steps: 6").replace("eval_steps: 50", "eval_steps: 3")
                .replace("logging_steps: 10", "logging_steps: 1"));
        Files.move(model, Files.createDirectories(tmp.resolve("examples/models")).resolve("sft-base"));
        CliRun run = CliRun.of("sft", dir.resolve("lora.yml").toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("500 rows -> 500 examples"), run.out());
        Path out = tmp.resolve("examples/models/sft-lora-out");
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        ObjectMapper json = new ObjectMapper();
        assertTrue(json.readTree(metrics.get(5)).get("eval_loss").asDouble()
                < json.readTree(metrics.get(2)).get("eval_loss").asDouble(), metrics.toString());
        assertTrue(Files.isRegularFile(out.resolve("adapter_model.safetensors")));
    }

    /** The training benchmark lives under {@code bench} (running it takes too long for the suite). */
    @Test
    void benchSftIsABenchSubcommand() {
        CliRun run = CliRun.of("bench", "sft", "--help");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("Usage: crucible bench sft") && run.out().contains("--methods"), run.out());
        assertTrue(CliRun.of("bench-sft", "--shape", "tiny").exitCode() != 0, "the old top-level name is gone");
    }

    /** Axolotl's QDoRA keys: a 4-bit base with a DoRA adapter trains and saves a PEFT DoRA adapter. */
    @Test
    void qloraWithPeftUseDoraTrainsADoraAdapterOverAnNf4Base() throws IOException {
        Path cfg = config("load_in_4bit: true\npeft_use_dora: true\n");
        Files.writeString(cfg, Files.readString(cfg).replace("adapter: lora", "adapter: qlora"));
        CliRun run = CliRun.of("sft", cfg.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("qdora fine-tuning"), run.out());
        Path out = tmp.resolve("out");
        LoraAdapter adapter = LoraAdapter.load(out);
        assertTrue(adapter.config().useDora());
        assertEquals(21, adapter.modules().size());
        assertTrue(adapter.modules().values().stream().allMatch(dev.crucible.train.LoraModule::isDora));
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        JsonNode first = new ObjectMapper().readTree(metrics.get(0));
        JsonNode last = new ObjectMapper().readTree(metrics.get(5));
        assertTrue(last.get("loss").asDouble() < first.get("loss").asDouble(), metrics.toString());
    }

    /** adapter, load_in_4bit and peft_use_dora combine into one of four adapter methods; full takes neither flag. */
    @Test
    void adapterKeysCombineAsAxolotlReadsThem() throws IOException {
        Map<String, String> expected = new java.util.LinkedHashMap<>();
        expected.put("adapter: lora\n", "lora");
        expected.put("adapter: lora\nload_in_4bit: true\n", "qlora");
        expected.put("adapter: qlora\n", "qlora");
        expected.put("adapter: lora\npeft_use_dora: true\n", "dora");
        expected.put("adapter: dora\n", "dora");
        expected.put("adapter: dora\nload_in_4bit: true\n", "qdora");
        expected.put("adapter: qlora\nload_in_4bit: true\npeft_use_dora: true\n", "qdora");
        expected.put("adapter: null\n", "full");
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Path cfg = config("");
            Files.writeString(cfg, Files.readString(cfg).replace("adapter: lora\n", e.getKey()));
            assertEquals(e.getValue(), TrainConfig.read(cfg).adapter(), e.getKey());
        }
        for (String flag : List.of("peft_use_dora", "load_in_4bit")) {
            Path cfg = config("");
            Files.writeString(cfg, Files.readString(cfg).replace("adapter: lora\n", flag + ": true\n"));
            CliRun run = CliRun.of("sft", cfg.toString());
            assertEquals(1, run.exitCode());
            assertTrue(run.err().contains("'" + flag + "' needs an adapter"), run.err());
        }
    }

    @Test
    void unknownKeysAndUnsupportedOptionsAreNamed() throws IOException {
        CliRun run = CliRun.of("sft", config("lora_rnak: 4\n").toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("unknown key [lora_rnak]; did you mean lora_r?"), run.err());
        run = CliRun.of("sft", config("sample_packing: yes please\n").toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("'sample_packing' must be true or false"), run.err());
    }

    @Test
    void aRowMissingItsFieldIsNamedWithItsFileAndRow() throws IOException {
        Path cfg = config("");
        Files.writeString(tmp.resolve("chats.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"text\": \"x\"}\n",
                java.nio.file.StandardOpenOption.APPEND);
        CliRun run = CliRun.of("sft", cfg.toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("chats.jsonl line 26: missing field 'messages'"), run.err());
    }

    static SftExample build(ExampleBuilder builder, DatasetType type, String json) throws IOException {
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = new ObjectMapper().readValue(json, Map.class);
        return builder.build(type.toSample(new DatasetRow(Path.of("rows.jsonl"), "line", 1, fields), null));
    }

    /** The formats sft reads through the data package, with the fixture tokenizer and chat template. */
    @Test
    void formatsMaskPromptsUnlessTrainOnInputs() throws IOException {
        try (Tokenizer tok = Tokenizer.load(model)) {
            ExampleBuilder masked = new ExampleBuilder(tok, ChatTemplate.fromModel(dev.crucible.io.ModelDirectory.open(model)),
                    512, false);
            ExampleBuilder all = new ExampleBuilder(tok, null, 512, true);
            SftExample a = build(masked, DatasetType.ALPACA, "{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}");
            int trained = 0;
            for (int l : a.labels()) {
                trained += l != -100 ? 1 : 0;
            }
            int[] response = tok.encode("hi", false);
            assertEquals(response.length + 1, trained, "the response and EOS carry the loss");
            assertEquals(tok.eosTokenId(), a.inputIds()[a.length() - 1]);
            SftExample t = build(all, DatasetType.TEXT, "{\"text\": \"plain text\"}");
            assertArrayEquals(t.inputIds(), t.labels());
            SftExample share = build(masked, DatasetType.SHAREGPT,
                    "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"answer\"}]}");
            SftExample msgs = build(masked, DatasetType.MESSAGES,
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"answer\"}]}");
            assertArrayEquals(share.inputIds(), msgs.inputIds());
            assertArrayEquals(share.labels(), msgs.labels());
            assertTrue(msgs.labels()[0] == -100 && msgs.labels()[msgs.length() - 2] != -100);
        }
    }

    /**
     * special_tokens: an eos_token of the vocabulary becomes the EOS that alpaca rows end with and is saved in the
     * output's tokenizer_config.json; a token outside the vocabulary is refused before any data is read.
     */
    @Test
    void specialTokensOverrideTheTokenizersAndMustBeInItsVocabulary() throws IOException {
        Files.writeString(tmp.resolve("alpaca.jsonl"), "{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}\n"
                .repeat(12));
        Path cfg = config("special_tokens:\n  eos_token: <|im_end|>\n");
        Files.writeString(cfg, Files.readString(cfg).replace("path: chats.jsonl\n    type: messages",
                "path: alpaca.jsonl\n    type: alpaca").replace("val_set_size: 4", "val_set_size: 0")
                .replace("sequence_len: 64", "sequence_len: 256"));
        CliRun run = CliRun.of("sft", cfg.toString());
        assertEquals(0, run.exitCode(), run.err());
        JsonNode saved = new ObjectMapper().readTree(tmp.resolve("out/tokenizer_config.json").toFile());
        assertEquals("<|im_end|>", saved.get("eos_token").asText());
        try (Tokenizer base = Tokenizer.load(model);
             Tokenizer overridden = Tokenizer.load(dev.crucible.io.ModelDirectory.open(model)
                     .withSpecialTokens(Map.of("eos_token", "<|im_end|>")))) {
            assertEquals(base.tokenToId("<|im_end|>"), overridden.eosTokenId());
            ExampleBuilder builder = new ExampleBuilder(overridden, null, 512, false);
            SftExample e = build(builder, DatasetType.ALPACA, "{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}");
            assertEquals(base.tokenToId("<|im_end|>").intValue(), e.inputIds()[e.length() - 1], "rows end with the new EOS");
        }
        Path bad = config("special_tokens:\n  pad_token: <|end_of_text|>\n");
        CliRun refused = CliRun.of("sft", bad.toString(), "--overwrite");
        assertEquals(1, refused.exitCode());
        assertTrue(refused.err().contains("special_tokens.pad_token '<|end_of_text|>' is not a token of"), refused.err());
    }

    /** lora_model_dir: training continues a PEFT adapter (its own r, alpha and targets), not a fresh one. */
    @Test
    void loraModelDirContinuesAnExistingAdapter() throws IOException {
        Path fixture = Path.of("testdata/hf/adapters/lora");
        Path cfg = config("lora_model_dir: " + fixture.toAbsolutePath() + "\n");
        Files.writeString(cfg, Files.readString(cfg).replace("learning_rate: 3e-2", "learning_rate: 1e-9"));
        CliRun run = CliRun.of("sft", cfg.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("note: lora_model_dir: training continues the adapter in " + fixture.toAbsolutePath()
                + " (r 4, lora_alpha 8.0"), run.err());
        LoraAdapter start = LoraAdapter.load(fixture);
        LoraAdapter trained = LoraAdapter.load(tmp.resolve("out"));
        assertEquals(4, trained.config().r());
        assertEquals(start.modules().keySet(), trained.modules().keySet());
        for (var e : start.modules().entrySet()) { // a learning rate of 1e-9 leaves the values where they started
            float[] a = e.getValue().a();
            float[] b = trained.modules().get(e.getKey()).a();
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-6, e.getKey());
            }
        }
    }
}
