package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.eval.Perplexity;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** generate, chat and eval perplexity end to end on the qwen2 fixture with the byte-level BPE fixture tokenizer. */
class TextCommandsTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void modelWithTokenizer() throws IOException {
        model = tmp.resolve("qwen2-chat");
        Files.createDirectories(model);
        Path weights = Path.of("testdata/hf/models/qwen2");
        for (String f : new String[] {"config.json", "generation_config.json", "model.safetensors"}) {
            Files.copy(weights.resolve(f), model.resolve(f));
        }
        Path tok = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) {
            Files.copy(tok.resolve(f), model.resolve(f));
        }
    }

    /** Greedy continuation by recomputing the whole sequence each step (no cache), as an independent check. */
    static int[] greedyWithoutCache(Transformer t, int[] prompt, int steps, int stopId) {
        int[] seq = prompt.clone();
        for (int s = 0; s < steps; s++) {
            float[] logits = t.forward(new int[][] {seq}, t.newCache(1, seq.length), Transformer.Logits.LAST, null);
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
            if (best == stopId) {
                break;
            }
        }
        return Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    @Test
    void generateStreamsTheGreedyContinuation() {
        String expected;
        try (Transformer t = Transformer.load(model); Tokenizer tok = Tokenizer.load(model)) {
            int[] ids = greedyWithoutCache(t, tok.encode("hello world", true), 12, tok.eosTokenId());
            expected = tok.decode(ids, true);
        }
        CliRun r = CliRun.of("generate", model.toString(), "--prompt", "hello world",
                "--max-new-tokens", "12");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(expected + System.lineSeparator(), r.out());
    }

    @Test
    void chatFormatsThePromptWithTheTemplate() {
        String expected;
        try (Transformer t = Transformer.load(model); Tokenizer tok = Tokenizer.load(model)) {
            String text = "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
            int[] ids = greedyWithoutCache(t, tok.encode(text, false), 6, tok.eosTokenId());
            expected = tok.decode(ids, true);
        }
        CliRun r = CliRun.of("generate", model.toString(), "--prompt", "hi", "--chat",
                "--system", "be brief", "--max-new-tokens", "6");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(expected + System.lineSeparator(), r.out());
    }

    @Test
    void chatLoopAnswersEachLineAndStopsAtEndOfInput() {
        InputStream old = System.in;
        System.setIn(new ByteArrayInputStream("hi\nhow are you\n/exit\n".getBytes(StandardCharsets.UTF_8)));
        try {
            CliRun r = CliRun.of("chat", model.toString(), "--max-new-tokens", "4");
            assertEquals(0, r.exitCode(), r.err());
            assertEquals(4, r.out().split("> ", -1).length, r.out()); // three prompts: two turns, then /exit
        } finally {
            System.setIn(old);
        }
    }

    @Test
    void generateWithoutATemplateSaysSo() throws IOException {
        Path bare = tmp.resolve("no-template");
        Files.createDirectories(bare);
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(model.resolve(f), bare.resolve(f));
        }
        CliRun r = CliRun.of("generate", bare.toString(), "--prompt", "hi", "--chat");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("has no chat template"), r.err());
    }

    @Test
    void perplexityJsonMatchesAHandComputationFromLogits() throws IOException {
        Path data = tmp.resolve("data.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n{\"text\": \"the cat sat\"}\n");
        double total = 0;
        long count = 0;
        try (Transformer t = Transformer.load(model); Tokenizer tok = Tokenizer.load(model)) {
            for (String text : new String[] {"hello world", "the cat sat"}) {
                int[] ids = tok.encode(text, true);
                float[] logits = t.forward(new int[][] {ids}, t.newCache(1, ids.length), Transformer.Logits.ALL, null);
                for (int j = 1; j < ids.length; j++) {
                    total += Perplexity.negativeLogLikelihood(logits, (j - 1) * 512, 512, ids[j]);
                    count++;
                }
            }
        }
        CliRun r = CliRun.of("eval", "perplexity", model.toString(), "--data",
                data.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals(count, json.get("tokens").asLong());
        assertEquals(total / count, json.get("nll").asDouble(), 1e-6);
        assertEquals(Math.exp(total / count), json.get("perplexity").asDouble(), 1e-6 * Math.exp(total / count));
        CliRun text = CliRun.of("eval", "perplexity", model.toString(), "--data",
                data.toString());
        assertTrue(text.out().startsWith("tokens: " + count), text.out());
    }

    @Test
    void aTokenizerLargerThanTheModelVocabularyIsRefused() throws IOException {
        Path small = tmp.resolve("small-vocab");
        Files.createDirectories(small);
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(
                model.resolve("config.json").toFile());
        config.put("vocab_size", 256);
        Files.writeString(small.resolve("config.json"), config.toString());
        try (var c = dev.crucible.io.Checkpoint.open(model)) {
            java.util.Map<String, dev.crucible.tensor.Tensor> kept = new java.util.LinkedHashMap<>();
            for (String name : c.names()) {
                var t = c.tensor(name);
                if (name.equals("model.embed_tokens.weight")) { // keep the first 256 rows
                    float[] rows = Arrays.copyOf(t.toFloatArray(), 256 * 64);
                    t = dev.crucible.tensor.Tensor.fromFloats(t.dtype(), rows, 256, 64);
                }
                kept.put(name, t);
            }
            dev.crucible.io.SafetensorsWriter.write(small.resolve("model.safetensors"), kept);
        }
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(model.resolve(f), small.resolve(f));
        }
        CliRun r = CliRun.of("generate", small.toString(), "--prompt", "hi");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("vocab_size in config.json is 256"), r.err());
    }

    @Test
    void badJsonlLineIsNamed() throws IOException {
        Path data = tmp.resolve("bad.jsonl");
        Files.writeString(data, "{\"text\": \"ok\"}\n{\"body\": 1}\n");
        CliRun r = CliRun.of("eval", "perplexity", model.toString(), "--data", data.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("line 2") && r.err().contains("'text'"), r.err());
    }
}
