package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints, resume and the metrics log of {@code sft}, end to end through the command line on the Llama fixture with
 * the byte-level BPE fixture tokenizer.
 */
class SftResumeTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path out;

    @BeforeEach
    void model() throws IOException {
        TrainCommandTest.fixtureModel(tmp.resolve("model"));
        TrainCommandTest.writeChats(tmp.resolve("chats.jsonl"), 24);
        out = tmp.resolve("out");
    }

    Path config(String name, String extra) throws IOException {
        Path cfg = tmp.resolve(name);
        Files.writeString(cfg, """
                base_model: model
                datasets:
                  - path: chats.jsonl
                    type: messages
                sequence_len: 64
                adapter: lora
                lora_r: 8
                lora_alpha: 16
                micro_batch_size: 4
                max_steps: 6
                learning_rate: 3e-2
                warmup_steps: 1
                seed: 3
                output_dir: out
                """ + extra);
        return cfg;
    }

    static List<JsonNode> metrics(Path dir) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            rows.add(JSON.readTree(line));
        }
        return rows;
    }

    static List<Integer> steps(List<JsonNode> rows) {
        return rows.stream().map(r -> r.get("step").asInt()).toList();
    }

    static CliRun sft(Path cfg) {
        CliRun run = CliRun.of("sft", cfg.toString());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        return run;
    }

    /**
     * A real kill -9 mid-run (a child JVM), then resume_from_checkpoint: true: training continues from the latest
     * checkpoint, metrics.jsonl holds each step exactly once, and the loss of every step equals the uninterrupted run's.
     */
    @Test
    void killNineThenResumeKeepsEveryStepOnce() throws Exception {
        Path cfg = config("sft.yml", "save_steps: 2\n");
        Files.writeString(cfg, Files.readString(cfg).replace("max_steps: 6", "max_steps: 12"));
        Path straightCfg = tmp.resolve("straight.yml");
        Files.writeString(straightCfg, Files.readString(cfg).replace("output_dir: out", "output_dir: straight"));
        assertEquals(0, sft(straightCfg).exitCode());
        List<JsonNode> straight = metrics(tmp.resolve("straight"));

        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "sft", cfg.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (child.isAlive() && System.nanoTime() < deadline
                && !(Files.isDirectory(out.resolve("checkpoint-4")) && lines(out.resolve("metrics.jsonl")) >= 5)) {
            Thread.sleep(20);
        }
        assertTrue(child.isAlive(), "killed mid-run: " + Files.readString(tmp.resolve("child.log")));
        child.destroyForcibly(); // SIGKILL
        child.waitFor();
        int logged = lines(out.resolve("metrics.jsonl"));
        assertTrue(logged >= 5, "steps logged before the kill: " + logged);

        Files.writeString(cfg, Files.readString(cfg) + "resume_from_checkpoint: true\n");
        CliRun resumed = sft(cfg);
        assertEquals(0, resumed.exitCode(), resumed.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("resumed from .*checkpoint-(\\d+) at step (\\d+)")
                .matcher(resumed.out());
        assertTrue(m.find(), resumed.out());
        int from = Integer.parseInt(m.group(2));
        assertTrue(from >= 4, "the latest checkpoint: " + resumed.out());
        List<JsonNode> rows = metrics(out);
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), steps(rows), "each step once, in order");
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(straight.get(i).get("loss").asDouble(), rows.get(i).get("loss").asDouble(),
                    1e-5 * straight.get(i).get("loss").asDouble(), "step " + (i + 1));
        }
    }

    private static int lines(Path file) throws IOException {
        return Files.isRegularFile(file) ? (int) Files.readAllLines(file).stream().filter(l -> l.endsWith("}")).count() : 0;
    }

    /** Resuming an earlier checkpoint replaces the steps after it in metrics.jsonl and the later checkpoints. */
    @Test
    void resumingAnEarlierCheckpointReplacesWhatCameAfterIt() throws IOException {
        assertEquals(0, sft(config("sft.yml", "save_steps: 2\n")).exitCode());
        assertEquals(List.of(1, 2, 3, 4, 5, 6), steps(metrics(out)));
        assertTrue(Files.isDirectory(out.resolve("checkpoint-4")));
        CliRun run = sft(config("resume.yml", "save_steps: 2\nresume_from_checkpoint: out/checkpoint-2\n"));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("at step 2"), run.out());
        assertTrue(run.err().contains("checkpoint-4, a checkpoint after step 2 of the run being resumed"), run.err());
        assertEquals(List.of(1, 2, 3, 4, 5, 6), steps(metrics(out)));
        assertTrue(Files.isDirectory(out.resolve("checkpoint-4")), "written again by the resumed run");
    }

    @Test
    void resumeFromCheckpointTrueNeedsACheckpoint() throws IOException {
        CliRun run = sft(config("sft.yml", "resume_from_checkpoint: true\n"));
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("resume_from_checkpoint: true, but output_dir " + out + " holds no checkpoint-N"), run.err());
        CliRun auto = sft(config("auto.yml", "auto_resume_from_checkpoints: true\n"));
        assertEquals(0, auto.exitCode(), "auto_resume starts fresh when there is none: " + auto.err());
    }

    /** Another lora_r, method or target set is an error naming the key; a changed learning rate is a note. */
    @Test
    void resumingWithIncompatibleSettingsIsAClearError() throws IOException {
        assertEquals(0, sft(config("sft.yml", "save_steps: 3\n")).exitCode());
        String resume = "resume_from_checkpoint: out/checkpoint-3\n";
        CliRun r = sft(config("r.yml", resume));
        Files.writeString(tmp.resolve("r.yml"), Files.readString(tmp.resolve("r.yml")).replace("lora_r: 8", "lora_r: 4"));
        r = sft(tmp.resolve("r.yml"));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith("error: cannot resume from " + out.resolve("checkpoint-3") + ": it was trained with lora_r 8,"
                + " this config gives 4; resume with the checkpoint's settings"), r.err());
        CliRun dora = sft(config("dora.yml", resume + "peft_use_dora: true\n"));
        assertEquals(1, dora.exitCode());
        assertTrue(dora.err().contains("it was trained by a lora adapter, this config asks for a dora adapter"), dora.err());
        CliRun targets = sft(config("t.yml", resume + "lora_target_modules: [q_proj, v_proj]\n"));
        assertEquals(1, targets.exitCode());
        assertTrue(targets.err().contains("it was trained with lora_target_modules / lora_target_linear"), targets.err());
        CliRun missing = sft(config("m.yml", "resume_from_checkpoint: out/checkpoint-99\n"));
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().contains("checkpoint-99 does not exist"), missing.err());
        Path lr = config("lr.yml", resume);
        Files.writeString(lr, Files.readString(lr).replace("learning_rate: 3e-2", "learning_rate: 1e-2"));
        CliRun changed = sft(lr);
        assertEquals(0, changed.exitCode(), changed.err());
        assertTrue(changed.err().contains("note: resuming with learning_rate 0.01 (the checkpoint was made with 0.03)"), changed.err());
    }

    /**
     * A fresh run with --overwrite removes the checkpoints an earlier run left in output_dir (only Crucible's: a user's
     * checkpoint-99 with other files stays); save_total_limit keeps the newest.
     */
    @Test
    void staleCheckpointsAreRemovedAndSaveTotalLimitKeepsTheNewest() throws IOException {
        assertEquals(0, sft(config("sft.yml", "save_steps: 2\n")).exitCode());
        Path users = Files.createDirectories(out.resolve("checkpoint-99"));
        Files.writeString(users.resolve("notes.txt"), "mine");
        CliRun refused = sft(config("again.yml", "save_steps: 1\nsave_total_limit: 2\n"));
        assertEquals(1, refused.exitCode(), "a fresh run into a used output_dir needs --overwrite");
        CliRun again = CliRun.of("sft", tmp.resolve("again.yml").toString(), "--overwrite");
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.err().contains("note: removed " + out.resolve("checkpoint-2") + ", a checkpoint of an earlier run"), again.err());
        assertTrue(again.err().contains("(save_total_limit 2)"), again.err());
        List<String> left;
        try (var s = Files.list(out)) {
            left = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted().toList();
        }
        assertEquals(List.of("checkpoint-4", "checkpoint-5", "checkpoint-99"), left);
        assertEquals("mine", Files.readString(users.resolve("notes.txt")));
    }

    /** logging_steps: a row every n steps with the mean of their losses (the HF Trainer's logging); padding changes nothing. */
    @Test
    void loggingStepsAverageTheLossAndPaddingToSequenceLenChangesNoNumber() throws IOException {
        assertEquals(0, sft(config("sft.yml", "")).exitCode());
        List<JsonNode> every = metrics(out);
        Path windowed = config("windowed.yml", "logging_steps: 3\npad_to_sequence_len: true\n");
        Files.writeString(windowed, Files.readString(windowed).replace("output_dir: out", "output_dir: windowed"));
        assertEquals(0, sft(windowed).exitCode());
        List<JsonNode> rows = metrics(tmp.resolve("windowed"));
        assertEquals(List.of(3, 6), steps(rows));
        for (int w = 0; w < 2; w++) {
            double mean = 0;
            long tokens = 0;
            for (int s = 3 * w; s < 3 * w + 3; s++) {
                mean += every.get(s).get("loss").asDouble() / 3;
                tokens += every.get(s).get("tokens").asLong();
            }
            assertEquals(mean, rows.get(w).get("loss").asDouble(), 1e-6 * mean, "window " + w);
            assertEquals(tokens, rows.get(w).get("tokens").asLong());
        }
    }
}
