package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.data.PreferenceFixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crucible train} with {@code rl:} as a user meets it: bad rows fail naming the row, a prompt that fills
 * {@code sequence_len} is counted and dropped, {@code --dry-run} reports before anything is loaded or written,
 * checkpoints carry the precomputed reference so a resumed run continues the same curve, and the keys of one method
 * are refused for another.
 */
class PreferenceCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path model;
    @TempDir
    Path tmp;

    @BeforeAll
    static void fixture() {
        PreferenceFixture.modelDir(model);
    }

    private Path config(String data, String rows, String extra) throws IOException {
        Files.writeString(tmp.resolve("pairs.jsonl"), rows == null
                ? Files.readString(PreferenceFixture.DATA.resolve(data)) : rows);
        return Files.writeString(tmp.resolve("cfg.yml"), "base_model: " + model + "\n" + """
                datasets:
                  - path: pairs.jsonl
                    type: preference
                sequence_len: 40
                max_steps: 2
                learning_rate: 1e-3
                output_dir: out
                """ + (extra.contains("micro_batch_size") ? "" : "micro_batch_size: 2\n") + extra);
    }

    private static void failsWith(CliRun run, String... fragments) {
        assertEquals(1, run.exitCode(), run.err());
        for (String f : fragments) {
            assertTrue(run.err().contains(f), "expected '" + f + "' in: " + run.err());
        }
        assertFalse(run.err().contains("\tat "), run.err());
    }

    @Test
    void aRowWithoutChosenFailsNamingItsLine() throws IOException {
        String rows = "{\"prompt\": \"a\", \"chosen\": \" b\", \"rejected\": \" c\"}\n{\"prompt\": \"a\", \"rejected\": \" c\"}\n";
        failsWith(CliRun.of("train", config(null, rows, "rl: dpo\n").toString()), "pairs.jsonl line 2",
                "missing field 'chosen'");
        assertFalse(Files.exists(tmp.resolve("out/metrics.jsonl")), "nothing trained");
    }

    @Test
    void anEmptyCompletionFails() throws IOException {
        String rows = "{\"prompt\": \"a\", \"chosen\": \"\", \"rejected\": \" c\"}\n";
        failsWith(CliRun.of("train", config(null, rows, "rl: ipo\n").toString()), "line 1", "'chosen' is empty");
    }

    @Test
    void chosenAndRejectedWithDifferentPromptsFail() throws IOException {
        String rows = """
                {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], \
                "rejected": [{"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "7"}]}
                """;
        failsWith(CliRun.of("train", config(null, rows, "rl: dpo\n").toString()), "line 1", "no common beginning");
    }

    @Test
    void aPromptThatFillsSequenceLenIsCountedAndDropped() throws IOException {
        CliRun run = CliRun.of("train", config("long.jsonl", null, "rl: dpo\nmicro_batch_size: 1\n").toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("2 rows, 1 kept"), run.out());
        assertTrue(run.err().contains("warning: 1 rows dropped: the prompt alone has 40 tokens or more"), run.err());
        assertTrue(run.out().contains("1 training and 0 validation pairs"), run.out());
    }

    @Test
    void aPromptLongerThanMaxPromptLenIsCutCountedAndKept() throws IOException {
        CliRun run = CliRun.of("train", config("long.jsonl", null, "rl: dpo\nmicro_batch_size: 1\nmax_prompt_len: 8\n")
                .toString(), "--dry-run");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("2 rows, 2 kept"), "the long prompt keeps its last 8 tokens: " + run.out());
        assertTrue(run.err().contains("warning: 1 prompts cut to max_prompt_len"), run.err());
        assertFalse(run.err().contains("rows dropped"), run.err());
    }

    @Test
    void dryRunReportsRowsTokensMethodAndMemoryAndWritesNothing() throws IOException {
        CliRun run = CliRun.of("train", config("standard.jsonl", null, "rl: dpo\nadapter: lora\n").toString(), "--dry-run");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("4 rows, 4 kept"), run.out());
        assertTrue(run.out().contains("dpo training (lora)"), run.out());
        assertTrue(run.out().contains("micro-batch: 4 sequences"), "2 pairs = 4 sequences: " + run.out());
        assertTrue(run.out().contains("estimated memory: weights "), run.out());
        assertTrue(run.out().contains("dry run: nothing trained or written"), run.out());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void keysOfOtherMethodsAndBadSettingsAreRefused() throws IOException {
        // each: the keys after the fixture's config (standard rows), and a fragment of the one error line
        String[][] refused = {
                {"rl: orpo\ndpo_label_smoothing: 0.1\n",
                        "'dpo_label_smoothing' does not apply to rl: orpo"},
                {"rl: ipo\nrpo_alpha: 1.0\n",
                        "'rpo_alpha' does not apply to rl: ipo"},
                {"rl: dpo\nrpo_alpha: -0.5\n",
                        "'rpo_alpha'"},
                {"rl: ipo\ndpo_loss_type: [ipo]\n",
                        "'dpo_loss_type' does not apply to rl: ipo"},
                {"rl: dpo\ndpo_loss_type: [hinge]\n",
                        "'dpo_loss_type' is [hinge]; Crucible trains [sigmoid], [robust], [ipo], [sigmoid, sft] and [robust, sft]"},
                {"rl: dpo\ndpo_loss_type: [sigmoid, sft]\ndpo_loss_weights: [1.0]\n",
                        "'dpo_loss_weights' has 1 weights for the 2 losses"},
                {"rl: dpo\ndpo_loss_type: [sigmoid, sft]\ndpo_loss_weights: [2, 0.5]\n",
                        "Crucible trains it at weight 1"},
                {"rl: dpo\ndpo_loss_type: [sigmoid, sft]\nrpo_alpha: 0.5\n",
                        "'rpo_alpha' and dpo_loss_type's sft weight are the same term"},
                {"rl: dpo\ndpo_loss_type: [ipo]\ndpo_label_smoothing: 0.1\n",
                        "'dpo_label_smoothing' does not apply to dpo_loss_type [ipo]"},
                {"rl: dpo\ndpo_loss_type: [sigmoid]\ndpo_label_smoothing: 0.1\n",
                        "TRL's sigmoid loss ignores it"},
                {"rl: dpo\ndpo_loss_weights: [1]\n",
                        "'dpo_loss_weights' needs dpo_loss_type"},
                {"rl: dpo\nsample_packing: true\n",
                        "'sample_packing' does not apply to preference training"},
                {"rl: dpo\ndpo_label_smoothing: 0.5\n",
                        "'dpo_label_smoothing'"},
        };
        for (String[] c : refused) {
            failsWith(CliRun.of("train", config("standard.jsonl", null, c[0]).toString()), c[1]);
        }
        failsWith(CliRun.of("train", config("kto.jsonl", null, "rl: kto\nmicro_batch_size: 1\n").toString()),
                "micro_batch_size of at least 2");
        Path kto = config("kto.jsonl", null, "rl: dpo\n");
        Files.writeString(kto, Files.readString(kto).replace("type: preference", "type: kto"));
        failsWith(CliRun.of("train", kto.toString()), "type kto holds unpaired rows");
    }

    /** Full fine-tuning precomputes the reference by default; the checkpoint keeps it, since the weights move on. */
    @Test
    void aResumedRunContinuesTheSameCurve() throws IOException {
        Path cfg = config("standard.jsonl", null, "rl: dpo\nsave_steps: 2\nlogging_steps: 1\n");
        Files.writeString(cfg, Files.readString(cfg).replace("max_steps: 2", "max_steps: 4"));
        CliRun straight = CliRun.of("train", cfg.toString());
        assertEquals(0, straight.exitCode(), straight.err());
        assertTrue(straight.out().contains("reference log-probs precomputed"), straight.out());
        Path checkpoint = tmp.resolve("out/checkpoint-2");
        assertTrue(Files.isRegularFile(checkpoint.resolve("reference_logps.safetensors")));
        List<String> full = Files.readAllLines(tmp.resolve("out/metrics.jsonl"));
        Path resumed = Files.writeString(tmp.resolve("resume.yml"), Files.readString(cfg)
                .replace("output_dir: out", "output_dir: again") + "resume_from_checkpoint: " + checkpoint + "\n");
        CliRun again = CliRun.of("train", resumed.toString());
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("resumed from"), again.out());
        List<String> rows = Files.readAllLines(tmp.resolve("again/metrics.jsonl"));
        assertEquals(4, rows.size(), "the checkpoint's two rows and two new ones");
        for (int s = 2; s < 4; s++) {
            JsonNode want = JSON.readTree(full.get(s));
            JsonNode got = JSON.readTree(rows.get(s));
            for (String key : List.of("loss", "rewards/margins", "logps/chosen", "num_tokens")) {
                assertEquals(want.get(key).asDouble(), got.get(key).asDouble(), 1e-6 * Math.abs(want.get(key).asDouble()),
                        "step " + (s + 1) + " " + key);
            }
        }
    }

    /** QLoRA keeps its base in NF4 (the reference shares it), DoRA and gradient checkpointing train too. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"adapter: qlora\nrl: dpo\nprecompute_ref_log_probs: false",
            "adapter: dora\nrl: ipo\ngradient_checkpointing: true", "adapter: qlora\nrl: kto", "rl: simpo\nadapter: qlora"})
    void otherAdaptersTrain(String keys) throws IOException {
        boolean kto = keys.contains("kto");
        Path cfg = config(kto ? "kto.jsonl" : "standard.jsonl", null, keys + "\n");
        Files.writeString(cfg, Files.readString(cfg).replace("type: preference", kto ? "type: kto" : "type: preference"));
        CliRun run = CliRun.of("train", cfg.toString());
        assertEquals(0, run.exitCode(), run.err());
        List<String> rows = Files.readAllLines(tmp.resolve("out/metrics.jsonl"));
        JsonNode last = JSON.readTree(rows.getLast());
        assertTrue(Double.isFinite(last.get("loss").asDouble()) && last.has("rewards/margins"), last.toString());
        assertTrue(Files.isRegularFile(tmp.resolve("out/adapter_model.safetensors")));
    }

    @Test
    void anSftCheckpointIsNotResumedAsPreferenceTraining() throws IOException {
        Path chats = Files.writeString(tmp.resolve("chats.jsonl"), """
                {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}
                {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
                """);
        Path sft = Files.writeString(tmp.resolve("sft.yml"), "base_model: " + model + "\n" + """
                datasets:
                  - path: chats.jsonl
                    type: messages
                sequence_len: 40
                micro_batch_size: 2
                max_steps: 2
                save_steps: 1
                output_dir: sft-out
                """);
        assertEquals(0, CliRun.of("train", sft.toString()).exitCode());
        Path cfg = config("standard.jsonl", null, "rl: dpo\nresume_from_checkpoint: " + tmp.resolve("sft-out/checkpoint-1")
                + "\n");
        failsWith(CliRun.of("train", cfg.toString()), "it was trained by supervised fine-tuning, this config asks for rl: dpo");
        assertTrue(Files.isRegularFile(chats));
    }

    @Test
    void sftIsTheSameCommand() {
        CliRun train = CliRun.of("train", "--help");
        CliRun sft = CliRun.of("sft", "--help");
        assertEquals(0, sft.exitCode());
        assertEquals(train.out(), sft.out());
        assertTrue(train.out().contains("--dry-run"));
    }
}
