package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.data.SftExamples;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.LoraAdapter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SftCommandTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    static final Path TOKENIZER = Path.of("testdata/hf/tokenizers/bytelevel_bpe");

    @TempDir
    Path tmp;
    Path model;

    record Run(int code, String out, String err) {
    }

    static Run cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

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
        Run run = cli("sft", config("").toString());
        assertEquals(0, run.code(), run.err());
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

    @Test
    void unknownKeysAndUnsupportedOptionsAreNamed() throws IOException {
        Run run = cli("sft", config("lora_rank: 4\nflash_attention: true\n").toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("unknown keys [flash_attention, lora_rank]"), run.err());
        run = cli("sft", config("sample_packing: true\n").toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("sample_packing"), run.err());
    }

    @Test
    void aRowMissingItsFieldIsNamedWithItsFileAndRow() throws IOException {
        Path cfg = config("");
        Files.writeString(tmp.resolve("chats.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"text\": \"x\"}\n",
                java.nio.file.StandardOpenOption.APPEND);
        Run run = cli("sft", cfg.toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("chats.jsonl row 26: row has no 'messages' list"), run.err());
    }

    @Test
    void formatsMaskPromptsUnlessTrainOnInputs() {
        try (Tokenizer tok = Tokenizer.load(model)) {
            ObjectMapper json = new ObjectMapper();
            SftExamples masked = new SftExamples(tok, ChatTemplate.fromModel(dev.crucible.io.ModelDirectory.open(model)), false);
            SftExamples all = new SftExamples(tok, null, true);
            JsonNode alpaca = json.readTree("{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}");
            SftExamples.Tokenized a = masked.tokenize(alpaca, "alpaca", "row");
            int trained = 0;
            for (int l : a.labels()) {
                trained += l != -100 ? 1 : 0;
            }
            int[] response = tok.encode("hi", false);
            assertEquals(response.length + 1, trained, "the response and EOS carry the loss");
            assertEquals(tok.eosTokenId(), a.ids()[a.ids().length - 1]);
            SftExamples.Tokenized t = all.tokenize(json.readTree("{\"text\": \"plain text\"}"), "text", "row");
            assertTrue(java.util.Arrays.equals(t.ids(), t.labels()));
            SftExamples.Tokenized share = masked.tokenize(json.readTree(
                    "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"answer\"}]}"),
                    "sharegpt", "row");
            SftExamples.Tokenized msgs = masked.tokenize(json.readTree(
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"answer\"}]}"),
                    "messages", "row");
            assertTrue(java.util.Arrays.equals(share.ids(), msgs.ids()) && java.util.Arrays.equals(share.labels(), msgs.labels()));
            assertTrue(msgs.labels()[0] == -100 && msgs.labels()[msgs.labels().length - 2] != -100);
            SftExamples.Tokenized comp = masked.tokenize(json.readTree("{\"prompt\": \"2+2=\", \"completion\": \"4\"}"),
                    "completion", "row");
            assertEquals(-100, comp.labels()[0]);
            assertEquals(comp.ids()[comp.ids().length - 1], comp.labels()[comp.labels().length - 1]);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
