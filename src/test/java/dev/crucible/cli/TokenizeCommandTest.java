package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizeCommandTest {
    static final String BYTELEVEL = "testdata/hf/tokenizers/bytelevel_bpe";
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void jsonOutputHoldsTheReferenceIds() throws IOException {
        CliRun r = CliRun.of("tokenize", BYTELEVEL, "--text", "Hello world!", "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("", r.err());
        JsonNode node = JSON.readTree(r.out());
        JsonNode reference = JSON.readTree(Path.of(BYTELEVEL, "reference.json").toFile());
        assertEquals(reference.at("/encode/Hello world!"), node.get("ids"));
        assertEquals(node.get("ids").size(), node.get("tokens").size());
        assertEquals("H", node.get("tokens").get(0).asText());
        assertEquals(1, r.out().strip().lines().count());
    }

    @Test
    void humanOutputHasOneLinePerTokenAndACount() {
        CliRun r = CliRun.of("tokenize", BYTELEVEL, "--text", "<|im_start|>user\nhi<|im_end|>");
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals("8 tokens", lines[lines.length - 1]);
        assertEquals(9, lines.length);
        assertTrue(lines[0].matches("0 +3 +\"<\\|im_start\\|>\" +\\[0, 12\\)"), lines[0]);
        assertTrue(lines[4].contains("\"Ċ\""), lines[4]); // the newline, byte-level encoded
    }

    @Test
    void fileInputAndNoSpecialTokens(@TempDir Path dir) throws IOException {
        Path tokDir = dir.resolve("tok");
        Files.createDirectories(tokDir);
        dev.crucible.model.TestTokenizers.writeWithBosEosTemplate(tokDir);
        Path text = dir.resolve("long.txt");
        Files.writeString(text, "ab".repeat(1500));
        JsonNode with = JSON.readTree(CliRun.of("tokenize", tokDir.toString(), "--file", text.toString(), "--json").out());
        JsonNode without = JSON.readTree(CliRun.of("tokenize", tokDir.toString(), "--file", text.toString(), "--json",
                "--no-special-tokens").out());
        assertEquals(3002, with.get("ids").size()); // BOS + one byte token per character + EOS, nothing truncated
        assertEquals(1, with.get("ids").get(0).asInt());
        assertEquals(3000, without.get("ids").size());
        assertEquals(3 + 'a', without.get("ids").get(0).asInt());
    }

    @Test
    void errorsAreOneLine(@TempDir Path dir) {
        CliRun missing = CliRun.of("tokenize", dir.toString(), "--text", "x");
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().startsWith("error: ") && missing.err().contains("no tokenizer.json"), missing.err());
        assertEquals(1, missing.err().strip().lines().count());

        CliRun both = CliRun.of("tokenize", BYTELEVEL, "--text", "x", "--file", "y.txt");
        assertEquals(2, both.exitCode());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
    }
}
