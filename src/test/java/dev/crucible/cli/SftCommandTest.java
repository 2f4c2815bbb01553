package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.data.DatasetRow;
import dev.crucible.data.DatasetType;
import dev.crucible.data.ExampleBuilder;
import dev.crucible.data.SftExample;
import dev.crucible.model.Tokenizer;
import dev.crucible.template.ChatTemplate;
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

class SftCommandTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    static final Path TOKENIZER = Path.of("testdata/hf/tokenizers/bytelevel_bpe");

    @TempDir
    Path tmp;
    Path model;

    /** The Llama fixture with the byte-level BPE fixture tokenizer (509 ids, within its 512-row vocabulary). */
    @BeforeEach
    void model() throws IOException {
        model = tmp.resolve("model");
        Files.createDirectories(model);
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(LLAMA.resolve(f), model.resolve(f));
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(TOKENIZER.resolve(f), model.resolve(f));
        }
    }

    Path config(String extra) throws IOException {
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            int a = i % 7;
            int b = i % 5;
            rows.append("{\"messages\": [{\"role\": \"user\", \"content\": \"add ").append(a).append(" and ").append(b)
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(a + b).append("\"}]}\n");
        }
        Files.writeString(tmp.resolve("chats.jsonl"), rows);
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
                .replace("max_steps: 30", "max_steps: 6").replace("eval_steps: 10", "eval_steps: 3"));
        Files.move(model, Files.createDirectories(tmp.resolve("examples/models")).resolve("sft-base"));
        CliRun run = CliRun.of("sft", dir.resolve("lora.yml").toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("64 rows -> 64 examples"), run.out());
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
            assertEquals(e.getValue(), SftConfig.read(cfg).adapter(), e.getKey());
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
        CliRun run = CliRun.of("sft", config("lora_rank: 4\nflash_attention: true\n").toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("unknown keys [flash_attention, lora_rank]"), run.err());
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
}
