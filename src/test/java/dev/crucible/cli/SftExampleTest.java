package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * examples/sft as shipped teaches something: after its run (examples/sft/lora.yml unchanged, 400 steps of a LoRA with
 * trained embeddings and head on the tiny random Llama), the adapter, used without merging, answers most of the 100
 * held-out questions (each sum in the phrasing training never showed) with the right sum (at least 70; runs have
 * given 80 to 89), and each reply stops at the template's {@code <|im_end|>}. The base model answers none.
 */
class SftExampleTest {
    @TempDir
    Path tmp;

    @Test
    void theExampleAnswersHeldOutSumsAfterItsRun() throws IOException {
        Path base = TrainCommandTest.fixtureModel(tmp.resolve("examples/models/sft-base"));
        Path dir = Files.createDirectories(tmp.resolve("examples/sft"));
        for (String f : List.of("lora.yml", "arithmetic.jsonl")) {
            Files.copy(Path.of("examples/sft").resolve(f), dir.resolve(f));
        }
        List<JsonNode> heldOut = Files.readAllLines(Path.of("examples/sft/held-out.jsonl")).stream().map(SftExampleTest::json).toList();
        assertEquals(100, heldOut.size());
        int baseRight = answered(base, heldOut.subList(0, 20));

        long start = System.nanoTime();
        CliRun run = CliRun.of("sft", dir.resolve("lora.yml").toString());
        assertEquals(0, run.exitCode(), run.err());
        double seconds = (System.nanoTime() - start) / 1e9;
        Path out = tmp.resolve("examples/models/sft-lora-out");
        int right = answered(out, heldOut);
        System.out.printf("examples/sft: %d of 100 held-out sums right after %.1f s of training (base: %d of 20)%n",
                right, seconds, baseRight);
        assertEquals(0, baseRight);
        assertTrue(right >= 70, right + " of 100 held-out sums answered right (80-89 seen over seeds 1, 2, 42)");
    }

    /** How many questions the model (or adapter directory) answers with exactly the expected sum, greedily. */
    private static int answered(Path model, List<JsonNode> questions) {
        int right = 0;
        for (JsonNode q : questions) {
            CliRun r = CliRun.of("generate", model.toString(), "--chat", "--prompt", q.get("question").asText(),
                    "--max-new-tokens", "12");
            // a reply that did not stop at <|im_end|> would run on to 12 tokens of digits and text
            right += r.exitCode() == 0 && r.out().strip().equals(q.get("answer").asText()) ? 1 : 0;
        }
        return right;
    }

    private static JsonNode json(String line) {
        try {
            return new ObjectMapper().readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(line, e);
        }
    }
}
