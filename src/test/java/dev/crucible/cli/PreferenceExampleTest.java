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
 * examples/dpo end to end, as shipped: the tiny Llama fine-tuned on two-digit sums (sft.yml), then a DPO LoRA on it
 * preferring the right sum over a wrong one (dpo.yml). The reward accuracy rises over the run, and under
 * {@code crucible eval perplexity} the chosen answers get likelier: their total log-likelihood rises, and more than
 * that of the rejected answers.
 */
class PreferenceExampleTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path tmp;

    @Test
    void dpoRaisesRewardAccuracyAndTheLikelihoodOfTheRightAnswers() throws IOException {
        Path base = Files.createDirectories(tmp.resolve("examples/models/dpo-base"));
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(TrainCommandTest.LLAMA.resolve(f), base.resolve(f));
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(TrainCommandTest.TOKENIZER.resolve(f), base.resolve(f));
        }
        Path dir = Files.createDirectories(tmp.resolve("examples/dpo"));
        for (String f : List.of("sft.yml", "dpo.yml", "chats.jsonl", "pairs.jsonl", "chosen.jsonl", "rejected.jsonl")) {
            Files.copy(Path.of("examples/dpo").resolve(f), dir.resolve(f));
        }
        CliRun sft = CliRun.of("train", dir.resolve("sft.yml").toString());
        assertEquals(0, sft.exitCode(), sft.err());
        Path sftModel = tmp.resolve("examples/models/dpo-sft");
        double chosenBefore = logLikelihood(sftModel, null, dir.resolve("chosen.jsonl"));
        double rejectedBefore = logLikelihood(sftModel, null, dir.resolve("rejected.jsonl"));

        CliRun dpo = CliRun.of("train", dir.resolve("dpo.yml").toString());
        assertEquals(0, dpo.exitCode(), dpo.err());
        Path adapter = tmp.resolve("examples/models/dpo-lora-out");
        List<JsonNode> rows = Files.readAllLines(adapter.resolve("metrics.jsonl")).stream().map(PreferenceExampleTest::json).toList();
        double first = rows.getFirst().get("rewards/accuracies").asDouble();
        double last = (rows.get(rows.size() - 1).get("rewards/accuracies").asDouble()
                + rows.get(rows.size() - 2).get("rewards/accuracies").asDouble()) / 2;
        double chosenAfter = logLikelihood(sftModel, adapter, dir.resolve("chosen.jsonl"));
        double rejectedAfter = logLikelihood(sftModel, adapter, dir.resolve("rejected.jsonl"));
        System.out.printf("examples/dpo: reward accuracy %.3f (first 10 steps) -> %.3f (last 20); log-likelihood of the"
                        + " 100 chosen answers %.1f -> %.1f, of the rejected %.1f -> %.1f%n", first, last, chosenBefore,
                chosenAfter, rejectedBefore, rejectedAfter);
        assertTrue(first < 0.6 && last > first + 0.1, "reward accuracy rises: " + first + " -> " + last);
        assertTrue(rows.getLast().get("rewards/margins").asDouble() > 0.1, rows.getLast().toString());
        assertTrue(chosenAfter > chosenBefore, "the chosen answers get likelier");
        assertTrue(chosenAfter - rejectedAfter > chosenBefore - rejectedBefore + 50,
                "and more so than the rejected ones (0.5 nats per pair)");
    }

    /** The summed log-likelihood of a JSONL of texts under {@code crucible eval perplexity} (per-token nll × tokens). */
    private static double logLikelihood(Path model, Path adapter, Path data) {
        List<String> args = new java.util.ArrayList<>(List.of("eval", "perplexity", model.toString(), "--data",
                data.toString(), "--json"));
        if (adapter != null) {
            args.addAll(List.of("--adapter", adapter.toString()));
        }
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        JsonNode result = json(r.out().strip());
        return -result.get("nll").asDouble() * result.get("tokens").asLong();
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(line, e);
        }
    }
}
