package dev.crucible.merge;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * transformers loads a Crucible merge ({@code AutoModelForCausalLM.from_pretrained}) and runs it. Needs python3
 * with torch and transformers; skipped where they are not importable.
 */
class TransformersInteropTest {
    @TempDir
    Path tmp;

    private static boolean pythonHasTransformers() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import torch, transformers").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void transformersLoadsAMergedModel() throws Exception {
        Assumptions.assumeTrue(pythonHasTransformers(), "python3 with torch + transformers not available");
        Path out = tmp.resolve("merged");
        var r = crucible("merge", FIXTURES.resolve("configs/linear_tokenizer_union.yml").toString(), out.toString(),
                "--base-dir", FIXTURES.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        String script = """
                import sys, torch
                from transformers import AutoModelForCausalLM, AutoTokenizer
                m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
                tok = AutoTokenizer.from_pretrained(sys.argv[1])
                ids = torch.tensor([tok.encode("hello merge")])
                logits = m(ids).logits
                assert logits.shape[-1] == m.config.vocab_size and torch.isfinite(logits).all()
                print("ok", m.config.num_hidden_layers, m.config.vocab_size)
                """;
        Path py = tmp.resolve("load.py");
        Files.writeString(py, script);
        Process p = new ProcessBuilder("python3", py.toString(), out.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.contains("ok 4 320"), output);
    }
}
