package dev.crucible.cli;

import dev.crucible.io.ModelDirectory;
import dev.crucible.train.MemoryPlan;
import dev.crucible.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlanCommandTest {
    static final Path MODEL = Path.of("testdata/hf/models/llama");

    @TempDir
    Path tmp;

    private static MemoryPlan.Estimate estimate(Trainer.Method method, int rows, int seq, boolean checkpointing) {
        Trainer.Settings s = new Trainer.Settings(method, method == Trainer.Method.FULL ? null
                : new Trainer.Lora(16, 32, 0, List.of("all-linear"), false), Trainer.Optimizer.of(1e-5, "constant", 0, 0, 1),
                rows, 1, seq, true, 1, checkpointing, 0, 0, 0, 1, 0);
        return MemoryPlan.estimate(MemoryPlan.Model.of(ModelDirectory.open(MODEL)),
                MemoryPlan.Run.of(s, null, rows, seq, Runtime.getRuntime().availableProcessors()));
    }

    @Test
    void aTableRowPerMethodAndCheckpointingWithTheEstimatesAndMeasuredSpeed() {
        CliRun run = CliRun.of("plan", MODEL.toString(), "--batch", "2", "--seq", "32", "--method", "full,qlora");
        assertEquals(0, run.exitCode(), run.err());
        String out = run.out();
        assertTrue(out.contains("2 × 32 tokens per micro-batch"), out);
        for (String method : List.of("full", "qlora")) {
            for (String ckpt : List.of("no", "yes")) {
                Matcher m = Pattern.compile("(?m)^" + method + " +" + ckpt + " +([\\d,]+) .* (\\d+) *$").matcher(out);
                assertTrue(m.find(), method + " " + ckpt + ": " + out);
                Trainer.Method t = Trainer.Method.valueOf(method.toUpperCase());
                assertEquals(estimate(t, 2, 32, ckpt.equals("yes")).trainableParameters(),
                        Long.parseLong(m.group(1).replace(",", "")));
                assertTrue(Long.parseLong(m.group(2)) > 0, "calibrated tokens/s: " + out);
            }
        }
        assertTrue(run.err().contains("calibrating qlora"), run.err());
        assertTrue(out.contains("recommendation: full, which needs "
                + MemoryPlan.size(estimate(Trainer.Method.FULL, 2, 32, false).expectedRss())), out);
    }

    @Test
    void whenFullFineTuningDoesNotFitTheRecommendationSaysSoAndNamesTheFirstThatFits() {
        long full = estimate(Trainer.Method.FULL, 4, 512, false).expectedRss();
        long budget = full - 1;
        String first = null;
        long need = 0;
        // the default order of preference, each without checkpointing first
        for (Trainer.Method m : List.of(Trainer.Method.FULL, Trainer.Method.LORA, Trainer.Method.DORA, Trainer.Method.QLORA)) {
            for (boolean ckpt : new boolean[]{false, true}) {
                long rss = estimate(m, 4, 512, ckpt).expectedRss();
                if (first == null && rss <= budget) {
                    first = m.name().toLowerCase() + (ckpt ? " with gradient checkpointing" : "");
                    need = rss;
                }
            }
        }
        CliRun run = CliRun.of("plan", MODEL.toString(), "--no-calibrate", "--memory", Long.toString(budget));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("recommendation: full fine-tuning does not fit in " + MemoryPlan.size(budget)
                + " (it needs " + MemoryPlan.size(full) + "); " + first + ", which needs " + MemoryPlan.size(need)),
                run.out());
        CliRun none = CliRun.of("plan", MODEL.toString(), "--no-calibrate", "--memory", "1MiB");
        assertTrue(none.out().contains("nothing planned fits; "), none.out());
        assertTrue(none.out().contains("with gradient checkpointing needs least"), none.out());
        CliRun gpu = CliRun.of("plan", MODEL.toString(), "--no-calibrate", "--gpu-memory", "1KiB");
        assertTrue(gpu.out().contains("of tensors): lower --batch or --seq"), gpu.out());
    }

    @Test
    void aPreferenceConfigPlansItsOwnMethodFirstOnTwiceTheRows() throws IOException {
        Path config = tmp.resolve("dpo.yml");
        Files.writeString(config, "base_model: " + MODEL.toAbsolutePath() + "\n"
                + "datasets: [{path: pairs.jsonl, type: preference}]\n"
                + "rl: dpo\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_linear: true\n"
                + "micro_batch_size: 3\nsequence_len: 64\noutput_dir: out\n");
        CliRun run = CliRun.of("plan", config.toString(), "--no-calibrate");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("6 × 64 tokens per micro-batch (dpo: chosen and rejected)"), run.out());
        assertTrue(run.out().indexOf("\nlora ") < run.out().indexOf("\nfull "), "the config's method first: " + run.out());
    }
}
