package dev.crucible.cli;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sft config reader: every numeric key has a range, checked before any model or data is touched. */
class TrainConfigTest {
    @TempDir
    Path tmp;

    /** A config whose base model and dataset do not exist: a range error must come before either is opened. */
    Path config(String extra) throws IOException {
        Path cfg = tmp.resolve("sft.yml");
        Files.writeString(cfg, """
                base_model: no-such-model
                datasets:
                  - path: no-such-data.jsonl
                    type: messages
                adapter: lora
                output_dir: out
                """ + extra);
        return cfg;
    }

    /** Each bad value is refused through the CLI with a one-line error naming the key, and no model is opened. */
    @Test
    void outOfRangeValuesAreRefusedBeforeAnythingIsLoaded() throws IOException {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("sequence_len: 99999999999", "'sequence_len' must be an integer from 2 to 16777216, got 99999999999");
        cases.put("max_steps: 4294967299", "'max_steps' must be an integer from -1 to 2147483647, got 4294967299");
        cases.put("learning_rate: -1e-3", "'learning_rate' must be a number greater than 0 and at most 1, got -0.001");
        cases.put("learning_rate: 0", "'learning_rate' must be a number greater than 0 and at most 1, got 0");
        cases.put("learning_rate: .nan", "'learning_rate' must be a number (finite)");
        cases.put("micro_batch_size: 0", "'micro_batch_size' must be an integer from 1 to 1048576, got 0");
        cases.put("micro_batch_size: 2.5", "'micro_batch_size' must be an integer from 1 to 1048576, got 2.5");
        cases.put("gradient_accumulation_steps: -2", "'gradient_accumulation_steps' must be an integer from 1");
        cases.put("num_epochs: 0", "'num_epochs' must be a number greater than 0");
        cases.put("lora_r: 0", "'lora_r' must be an integer from 1 to 65536, got 0");
        cases.put("lora_alpha: -16", "'lora_alpha' must be a number greater than 0");
        cases.put("lora_dropout: 1", "'lora_dropout' must be a number at least 0 and below 1, got 1");
        cases.put("warmup_steps: -1", "'warmup_steps' must be an integer from 0 to 2147483647, got -1");
        cases.put("warmup_ratio: 1.5", "'warmup_ratio' must be a number at least 0 and at most 1, got 1.5");
        cases.put("weight_decay: -0.1", "'weight_decay' must be a number at least 0, got -0.1");
        cases.put("weight_decay: 20000", "weight_decay 20000.0 × learning_rate 2.0E-4 must stay below 1");
        cases.put("adam_beta2: 1", "'adam_beta2' must be a number at least 0 and below 1, got 1");
        cases.put("max_grad_norm: -1", "'max_grad_norm' must be a number at least 0, got -1");
        cases.put("val_set_size: -0.1", "'val_set_size' must be a number at least 0");
        cases.put("val_set_size: 2.5", "'val_set_size' must be a fraction below 1 or a whole number");
        cases.put("seed: -3", "'seed' must be an integer from 0 to 9223372036854775807, got -3");
        cases.put("seed: 99999999999999999999", "'seed' must be an integer from 0 to 9223372036854775807");
        cases.put("save_steps: 2.5", "'save_steps' must be a whole number of steps or a fraction of the run below 1");
        cases.put("eval_steps: -5", "'eval_steps' must be a number at least 0");
        cases.put("logging_steps: 0", "'logging_steps' must be at least 1");
        cases.put("save_total_limit: 0", "'save_total_limit' must be an integer from 1");
        cases.put("saves_per_epoch: 0", "'saves_per_epoch' must be an integer from 1");
        cases.put("sequence_len: 1048576\nmicro_batch_size: 4096", "do not fit one batch");
        cases.put("sequence_len: 2048.5", "'sequence_len' must be an integer from 2 to 16777216, got 2048.5");
        cases.put("sequence_len: lots", "'sequence_len' must be an integer, got lots");
        cases.put("warmup_steps: 10\nwarmup_ratio: 0.1", "'warmup_steps' and 'warmup_ratio' are mutually exclusive");
        cases.put("eval_steps: 10\nevals_per_epoch: 4", "'eval_steps' and 'evals_per_epoch' are mutually exclusive");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            CliRun run = CliRun.of("sft", config(c.getKey() + "\n").toString());
            assertEquals(1, run.exitCode(), c.getKey());
            assertTrue(run.err().contains(c.getValue()), c.getKey() + " -> " + run.err());
            assertFalse(run.err().contains("no-such-model"), "checked before the model is opened: " + run.err());
            assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        }
    }

    @Test
    void largeButValidValuesAreReadExactly() throws IOException {
        TrainConfig c = TrainConfig.read(config("max_steps: 2147483647\nseed: 9223372036854775807\nsequence_len: 131072\n"
                + "learning_rate: 2e-5\nnum_epochs: 3\n"));
        assertEquals(Integer.MAX_VALUE, c.maxSteps());
        assertEquals(Long.MAX_VALUE, c.seed());
        assertEquals(131072, c.sequenceLen());
        assertEquals(2e-5, c.optimizer().learningRate());
        assertEquals(1e-8, c.optimizer().epsilon());
        assertEquals(0.9, c.optimizer().beta1());
    }

    /** save/eval/logging steps as the HF Trainer reads them (a fraction of the run below 1) and Axolotl's per-epoch keys. */
    @Test
    void intervalsResolveAsTheHfTrainerAndAxolotlDo() throws IOException {
        TrainConfig c = TrainConfig.read(config("save_steps: 0.25\nevals_per_epoch: 4\nlogging_steps: 5\nnum_epochs: 2\n"));
        assertEquals(25, c.saves().resolve(100, c.numEpochs()));   // ceil(100 · 0.25)
        assertEquals(13, c.evals().resolve(100, c.numEpochs()));   // 1 / (4 · 2) of 100 steps, rounded up
        assertEquals(5, c.logs().resolve(100, c.numEpochs()));
        TrainConfig once = TrainConfig.read(config("saves_per_epoch: 1\n"));
        assertEquals(0, once.saves().resolve(100, once.numEpochs()), "once per one-epoch run: at the end only");
        TrainConfig steps = TrainConfig.read(config("save_steps: 30\n"));
        assertEquals(30, steps.saves().resolve(100, 1));
    }

    @Test
    void unknownKeysAreErrorsWithASuggestionUnlessStrictIsFalse() throws IOException {
        CrucibleException e = assertThrows(CrucibleException.class, () -> TrainConfig.read(config("lora_rnak: 4\n")));
        assertTrue(e.getMessage().contains("unknown key [lora_rnak]; did you mean lora_r?"), e.getMessage());
        TrainConfig loose = TrainConfig.read(config("lora_rnak: 4\nstrict: false\n"));
        assertEquals(List.of("warning: ignored unknown key [lora_rnak]; did you mean lora_r? (strict: false)"), loose.notes());
        assertThrows(CrucibleException.class, () -> TrainConfig.read(config("lora_rnak: 4\nstrict: true\n")));
    }

    /** Axolotl's own keys never fail a run: hardware keys get a note of what happens on the CPU, others a warning. */
    @Test
    void axolotlKeysGetNotesOrWarnings() throws IOException {
        TrainConfig c = TrainConfig.read(config("""
                bf16: auto
                tf32: false
                flash_attention: true
                load_in_8bit: true
                wandb_project: my-run
                wandb_entity:
                deepspeed: deepspeed_configs/zero2.json
                gradient_checkpointing_kwargs:
                  use_reentrant: false
                optimizer: adamw_bnb_8bit
                loss_watchdog_threshold: 5.0
                dataset_prepared_path: last_run_prepared
                """));
        List<String> notes = c.notes();
        assertTrue(notes.contains("note: optimizer adamw_bnb_8bit: AdamW runs with float32 state, as torch computes it"
                + " (adamw_torch)"), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: bf16: training computes in float32 on the CPU")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: flash_attention: attention runs Crucible's CPU kernel")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: load_in_8bit: the base is not quantised to 8 bits")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: wandb_project: metrics go to output_dir/metrics.jsonl")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: deepspeed: one process trains on the CPU's cores")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: gradient_checkpointing_kwargs: gradient checkpointing")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("note: dataset_prepared_path: datasets are read and tokenised")), notes.toString());
        assertTrue(notes.contains("warning: ignored Axolotl key that Crucible does not implement: loss_watchdog_threshold"), notes.toString());
        assertTrue(notes.stream().noneMatch(n -> n.contains("tf32") || n.contains("wandb_entity")), "unset keys say nothing: " + notes);
        assertTrue(TrainConfig.read(config("optimizer: lion_8bit\n")).notes()
                .contains("warning: optimizer lion_8bit is not implemented: AdamW is used (adamw_torch)"));
        assertTrue(TrainConfig.read(config("optimizer: adamw_torch\n")).notes().stream()
                .noneMatch(n -> n.contains("optimizer")), "adamw_torch is what runs: nothing to say");
        assertEquals(dev.crucible.train.PreferenceMethod.DPO, TrainConfig.read(config("rl: dpo\n")).preference().method());
        CrucibleException rl = assertThrows(CrucibleException.class, () -> TrainConfig.read(config("rl: grpo\n")));
        assertTrue(rl.getMessage().contains("'rl' is 'grpo', expected dpo, ipo, orpo, simpo or kto"), rl.getMessage());
    }

    @Test
    void resumeFromCheckpointIsAPathOrTrue() throws IOException {
        TrainConfig.Resume latest = TrainConfig.read(config("resume_from_checkpoint: true\n")).resume();
        assertTrue(latest.latest() && !latest.auto());
        assertNull(latest.checkpoint());
        TrainConfig.Resume path = TrainConfig.read(config("resume_from_checkpoint: out/checkpoint-20\n")).resume();
        assertEquals(tmp.resolve("out/checkpoint-20"), path.checkpoint());
        assertEquals(TrainConfig.Resume.NONE, TrainConfig.read(config("resume_from_checkpoint:\n")).resume());
        assertTrue(TrainConfig.read(config("auto_resume_from_checkpoints: true\n")).resume().auto());
    }

    @Test
    void loraKeysNeedAnAdapterAndARegexStringTargetsPaths() throws IOException {
        Path cfg = config("lora_modules_to_save: [lm_head]\n");
        Files.writeString(cfg, Files.readString(cfg).replace("adapter: lora\n", ""));
        CrucibleException e = assertThrows(CrucibleException.class, () -> TrainConfig.read(cfg));
        assertTrue(e.getMessage().contains("'lora_modules_to_save' needs an adapter"), e.getMessage());
        TrainConfig regex = TrainConfig.read(config("lora_target_modules: 'model.layers.[01].self_attn.(q|v)_proj'\n"));
        assertTrue(regex.lora().targetsRegex());
        TrainConfig list = TrainConfig.read(config("lora_target_modules: [q_proj, v_proj]\nlora_modules_to_save: [lm_head]\n"));
        assertFalse(list.lora().targetsRegex());
        assertEquals(List.of("lm_head"), list.lora().modulesToSave());
    }
}
