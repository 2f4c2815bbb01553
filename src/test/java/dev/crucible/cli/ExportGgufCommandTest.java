package dev.crucible.cli;

import dev.crucible.gguf.GgufFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crucible export gguf} and the commands that read its files, end to end on the Llama fixture with the
 * SentencePiece fixture tokenizer: one type, --all-types with its size table, refusals, and generate/chat/inspect
 * on the GGUF giving what they give on the model directory.
 */
class ExportGgufCommandTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void llamaWithTokenizer() throws IOException {
        model = tmp.resolve("llama");
        Files.createDirectories(model);
        for (Path dir : new Path[] {Path.of("testdata/hf/models/llama"), Path.of("testdata/gguf/tokenizers/spm")}) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path f : s.toList()) {
                    if (!f.getFileName().toString().equals("reference.safetensors")) {
                        Files.copy(f, model.resolve(f.getFileName()));
                    }
                }
            }
        }
    }

    @Test
    void exportsOneTypeAndTheCommandsReadIt() throws IOException {
        Path out = tmp.resolve("llama.q8_0.gguf");
        CliRun r = CliRun.of("export", "gguf", model.toString(), out.toString(), "--outtype", "q8_0", "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("wrote " + out + " (q8_0, "), r.out());
        assertTrue(GgufFile.isGguf(out));
        Path plain = Files.createFile(tmp.resolve("plain-file"));
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(out), "the umask's mode");

        CliRun inspect = CliRun.of("inspect", out.toString(), "--tensors");
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("general.file_type                            7"), inspect.out());
        assertTrue(inspect.out().contains("blk.0.attn_q.weight"), inspect.out());

        CliRun fromDir = CliRun.of("generate", model.toString(), "--prompt", "the model writes", "--max-new-tokens", "10");
        CliRun fromGguf = CliRun.of("generate", exportF32(), "--prompt", "the model writes", "--max-new-tokens", "10");
        assertEquals(0, fromGguf.exitCode(), fromGguf.err());
        assertEquals(fromDir.out(), fromGguf.out(), "greedy text of the f32 GGUF = the model directory's");

        CliRun chat = CliRun.of("generate", out.toString(), "--prompt", "hi", "--chat", "--max-new-tokens", "4");
        assertEquals(0, chat.exitCode(), chat.err()); // the chat template came through the GGUF metadata
    }

    private static String exportF32() {
        Path f32 = tmp.resolve("llama.f32.gguf");
        CliRun r = CliRun.of("export", "gguf", model.toString(), f32.toString(), "--outtype", "f32", "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        return f32.toString();
    }

    @Test
    void allTypesWritesEveryTypeWithLlamaCppNamesAndATable() throws IOException {
        Path dir = tmp.resolve("all");
        CliRun r = CliRun.of("export", "gguf", model.toString(), "--all-types", "--types", "f16,q8_0,q6_k",
                "--out-dir", dir.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        for (String name : new String[] {"Llama-204K-F16.gguf", "Llama-204K-Q8_0.gguf", "Llama-204K-Q6_K.gguf"}) {
            assertTrue(Files.isRegularFile(dir.resolve(name)), name + " in " + r.out());
            assertTrue(r.out().contains(dir.resolve(name).toString()), r.out());
        }
        assertTrue(r.out().startsWith("type             size  file"), r.out());
        // one pass wrote the same bytes as separate exports
        Path single = tmp.resolve("single.q6_k.gguf");
        assertEquals(0, CliRun.of("export", "gguf", model.toString(), single.toString(), "--outtype", "q6_k", "--quiet").exitCode());
        assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(dir.resolve("Llama-204K-Q6_K.gguf")));
    }

    @Test
    void refusesToOverwriteAnInputAndNamesWhatIsWrong() throws IOException {
        byte[] before = Files.readAllBytes(model.resolve("model.safetensors"));
        CliRun r = CliRun.of("export", "gguf", model.toString(), model.resolve("model.safetensors").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith("error: OUT.gguf ") && r.err().contains("is inside the model"), r.err());
        assertArrayEquals(before, Files.readAllBytes(model.resolve("model.safetensors")));

        Path existing = Files.writeString(tmp.resolve("existing.gguf"), "keep me");
        CliRun noOverwrite = CliRun.of("export", "gguf", model.toString(), existing.toString(), "--quiet");
        assertEquals(1, noOverwrite.exitCode());
        assertTrue(noOverwrite.err().contains("exists; pass --overwrite to replace it"), noOverwrite.err());
        assertEquals("keep me", Files.readString(existing));
        assertEquals(0, CliRun.of("export", "gguf", model.toString(), existing.toString(), "--quiet", "--overwrite").exitCode());
        assertTrue(GgufFile.isGguf(existing));

        CliRun noDir = CliRun.of("export", "gguf", model.toString(), "--all-types");
        assertEquals(1, noDir.exitCode());
        assertTrue(noDir.err().contains("--all-types needs --out-dir"), noDir.err());

        CliRun q40 = CliRun.of("export", "gguf", model.toString(), tmp.resolve("x.gguf").toString(), "--outtype", "q4_0");
        assertEquals(1, q40.exitCode());
        assertTrue(q40.err().contains("no tensor type fallback is defined for type q4_0"), q40.err());
        assertFalse(Files.exists(tmp.resolve("x.gguf")));

        CliRun type = CliRun.of("export", "gguf", model.toString(), tmp.resolve("y.gguf").toString(), "--outtype", "q3_k");
        assertEquals(1, type.exitCode());
        assertTrue(type.err().contains("unknown GGUF type 'q3_k'"), type.err());

        CliRun noOut = CliRun.of("export", "gguf", model.toString());
        assertEquals(1, noOut.exitCode());
        assertTrue(noOut.err().contains("give the output file"), noOut.err());
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("crucible-tmp")), "no temporary file left");
        }
    }

    @Test
    void anUnknownBpeTokenizerIsRefusedWithItsHashUnlessPreNamesIt() throws IOException {
        Path qwen = tmp.resolve("qwen2");
        Files.createDirectories(qwen);
        for (Path dir : new Path[] {Path.of("testdata/hf/models/qwen2"), Path.of("testdata/gguf/tokenizers/bpe")}) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path f : s.toList()) {
                    if (!f.getFileName().toString().equals("reference.safetensors")) {
                        Files.copy(f, qwen.resolve(f.getFileName()));
                    }
                }
            }
        }
        CliRun refused = CliRun.of("export", "gguf", qwen.toString(), tmp.resolve("q0.gguf").toString());
        assertEquals(1, refused.exitCode());
        assertTrue(refused.err().contains("the BPE pre-tokenizer was not recognized (chkhsh "), refused.err());
        CliRun named = CliRun.of("export", "gguf", qwen.toString(), tmp.resolve("q.gguf").toString(), "--pre", "qwen2",
                "--quiet");
        assertEquals(0, named.exitCode(), named.err());
    }
}
