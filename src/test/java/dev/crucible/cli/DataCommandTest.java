package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataCommandTest {
    static final Path BYTELEVEL = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    Path model() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(BYTELEVEL.resolve(f), dir.resolve(f));
        }
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"}");
        return dir;
    }

    @Test
    void previewMarksTheAssistantTurnsAndCountsTruncation() throws Exception {
        Path data = tmp.resolve("chat.jsonl");
        Files.writeString(data, """
                {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}
                {"messages": [{"role": "user", "content": "%s"}, {"role": "assistant", "content": "ok"}]}
                """.formatted("long ".repeat(50)));
        CliRun r = CliRun.of("data", "preview", model().toString(), data.toString(),
                "--type", "messages", "--sequence-len", "40", "--rows", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("dataset: 2 rows -> 1 examples (1 dropped without trainable tokens)"), r.out());
        assertTrue(r.out().contains("truncated to sequence_len 40: 1 examples"), r.out());
        assertTrue(r.out().contains("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
                + "\u27e64<|im_end|>\n\u27e7"), r.out());
    }

    @Test
    void jsonOutputHoldsIdsAndLabels() throws Exception {
        Path data = tmp.resolve("docs.jsonl");
        Files.writeString(data, "{\"text\": \"Hello world!\"}\n");
        CliRun r = CliRun.of("data", "preview", model().toString(), data.toString(),
                "--type", "completion", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode reference = JSON.readTree(BYTELEVEL.resolve("reference.json").toFile()).at("/encode/Hello world!");
        // stdout is JSON only (one object per shown example); the statistics went to stderr
        List<String> lines = r.out().strip().lines().toList();
        assertEquals(1, lines.size(), r.out());
        JsonNode line = JSON.readTree(lines.getFirst());
        assertTrue(r.err().startsWith("dataset: 1 rows -> 1 examples"), r.err());
        assertEquals(reference.size() + 1, line.get("input_ids").size());
        for (int i = 0; i < reference.size(); i++) {
            assertEquals(reference.get(i).intValue(), line.get("input_ids").get(i).intValue());
        }
        assertEquals(2, line.get("input_ids").get(reference.size()).intValue()); // </s>
        assertEquals(line.get("input_ids"), line.get("labels"));
    }

    @Test
    void samplePackingReportsSequencesAndFill() throws Exception {
        Path data = tmp.resolve("docs.jsonl");
        // "Hello world!" is 10 tokens in the reference, 11 with the appended </s>
        Files.writeString(data, "{\"text\": \"Hello world!\"}\n".repeat(6));
        CliRun r = CliRun.of("data", "preview", model().toString(), data.toString(),
                "--type", "completion", "--sequence-len", "24", "--sample-packing", "--rows", "0");
        assertEquals(0, r.exitCode(), r.err());
        // 11 tokens each, two per sequence of 24: 3 sequences, 66 of 72 slots
        assertTrue(r.out().contains("sample packing: 6 examples in 3 sequences of 24 slots, 91.7% filled"), r.out());
    }

    @Test
    void aBadRowIsAOneLineError() throws Exception {
        Path data = tmp.resolve("alpaca.jsonl");
        Files.writeString(data, "{\"instruction\": \"x\"}\n");
        CliRun r = CliRun.of("data", "preview", model().toString(), data.toString(),
                "--type", "alpaca");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith("error: " + data + " line 1: missing field 'output'"), r.err());
    }
}
