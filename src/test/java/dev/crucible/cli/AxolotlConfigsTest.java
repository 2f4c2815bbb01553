package dev.crucible.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real Axolotl example configs (testdata/axolotl, README there names their source) run unchanged but for the model,
 * the data, the output directory and the run length: every Axolotl key they set is implemented, or noted with what
 * happens on the CPU, or listed as ignored, and none fails the run.
 */
class AxolotlConfigsTest {
    static final Path CONFIGS = Path.of("testdata/axolotl");

    @TempDir
    Path tmp;

    @BeforeEach
    void modelAndData() throws IOException {
        TrainCommandTest.fixtureModel(tmp.resolve("model"));
        StringBuilder alpaca = new StringBuilder();
        StringBuilder sharegpt = new StringBuilder();
        StringBuilder messages = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            alpaca.append("{\"instruction\": \"Add ").append(i % 7).append(" and ").append(i % 5)
                    .append(".\", \"input\": \"\", \"output\": \"").append(i % 7 + i % 5).append("\"}\n");
            sharegpt.append("{\"conversations\": [{\"from\": \"human\", \"value\": \"Add ").append(i % 7).append(" and ")
                    .append(i % 5).append(".\"}, {\"from\": \"gpt\", \"value\": \"").append(i % 7 + i % 5).append("\"}]}\n");
            messages.append("{\"messages\": [{\"role\": \"user\", \"content\": \"Add ").append(i % 7).append(" and ")
                    .append(i % 5).append(".\"}, {\"role\": \"assistant\", \"content\": \"").append(i % 7 + i % 5).append("\"}]}\n");
        }
        Files.writeString(tmp.resolve("alpaca.jsonl"), alpaca);
        Files.writeString(tmp.resolve("conversations.jsonl"), sharegpt);
        Files.writeString(tmp.resolve("messages.jsonl"), messages);
    }

    /**
     * The config with base_model, every dataset path and output_dir pointing here, Llama 3's pad token replaced by the
     * fixture's, 2 steps, and (but for the first config, which checks the warning) a sequence_len within the fixture's
     * 512 positions; chat_template names Axolotl has but Crucible lacks become the model's own.
     */
    Path localised(String name) throws IOException {
        String yaml = Files.readString(CONFIGS.resolve(name));
        if (!name.equals("llama-3_lora-1b.yml")) {
            yaml = yaml.replaceFirst("(?m)^sequence_len: .*$", "sequence_len: 256");
        }
        yaml = yaml.replaceFirst("(?m)^base_model: .*$", "base_model: model")
                .replaceFirst("(?m)^output_dir: .*$", "output_dir: out-" + name)
                .replace("<|end_of_text|>", "</s>")
                .replaceFirst("(?m)^num_epochs: .*$", "max_steps: 2")
                .replaceFirst("(?m)^chat_template: falcon_h1$", "chat_template: tokenizer_default");
        Matcher m = Pattern.compile("(?m)^(\\s*-?\\s*path: )(\\S+)\\n(\\s*)type: (\\S+)").matcher(yaml);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            // rows in the shape the entry asks for: Alpaca's fields, or messages under field_messages (default 'messages')
            String file = m.group(4).equals("alpaca") ? "alpaca.jsonl"
                    : yaml.contains("field_messages: conversations") ? "conversations.jsonl" : "messages.jsonl";
            m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + file + "\n" + m.group(3) + "type: " + m.group(4)));
        }
        m.appendTail(out);
        Path cfg = tmp.resolve(name);
        Files.writeString(cfg, out.toString());
        return cfg;
    }

    CliRun run(String name) throws IOException {
        CliRun run = CliRun.of("sft", localised(name).toString());
        assertEquals(0, run.exitCode(), name + ": " + run.err());
        assertFalse(run.err().contains("\tat "), run.err());
        assertTrue(run.out().contains(", 2 steps"), run.out());
        return run;
    }

    @Test
    void llama3LoraRunsWithItsAxolotlKeys() throws IOException {
        CliRun run = run("llama-3_lora-1b.yml");
        assertTrue(run.err().contains("note: optimizer adamw_8bit: AdamW runs with float32 state"), run.err());
        assertTrue(run.err().contains("note: bf16: training computes in float32 on the CPU"), run.err());
        assertTrue(run.err().contains("note: attn_implementation: attention runs Crucible's CPU kernel"), run.err());
        assertTrue(run.err().contains("warning: ignored Axolotl keys that Crucible does not implement: loss_watchdog_patience,"
                + " loss_watchdog_threshold"), run.err());
        assertTrue(run.err().contains("warning: sequence_len 2048 exceeds the model's max_position_embeddings 512"), run.err());
        assertTrue(Files.readString(tmp.resolve("out-llama-3_lora-1b.yml/tokenizer_config.json")).contains("\"pad_token\" : \"</s>\""),
                "special_tokens reach the saved tokenizer");
        assertTrue(Files.isRegularFile(tmp.resolve("out-llama-3_lora-1b.yml/adapter_model.safetensors")));
    }

    @Test
    void llama3QloraFullAndModulesToSaveRun() throws IOException {
        assertTrue(run("llama-3_qlora-1b.yml").out().contains("qlora fine-tuning"));
        CliRun full = run("llama-3_fft-8b.yaml");
        assertTrue(full.out().contains("full fine-tuning"), full.out());
        assertTrue(full.err().contains("note: gradient_checkpointing_kwargs: gradient checkpointing recomputes"), full.err());
        assertTrue(Files.isRegularFile(tmp.resolve("out-llama-3_fft-8b.yaml/model.safetensors")));
        CliRun saved = run("llama-3_lora-1b-deduplicate-sft.yml");
        assertTrue(saved.err().contains("note: load_in_8bit: the base is not quantised to 8 bits"), saved.err());
        assertTrue(saved.err().contains("dataset_exact_deduplication"), "listed as ignored: " + saved.err());
        assertTrue(Files.readString(tmp.resolve("out-llama-3_lora-1b-deduplicate-sft.yml/adapter_config.json")).contains("\"embed_tokens\""));
    }

    @Test
    void qwen3StrictFalseConfigRuns() throws IOException {
        CliRun run = run("qwen3_8b-lora-fused-attn.yaml");
        assertTrue(run.err().contains("fused_attn_kernel"), run.err());
    }

    /** type: chat_template datasets (field_messages, message_property_mappings; chat_template: llama3). */
    @Test
    void chatTemplateDatasetsRun() throws IOException {
        CliRun llama3 = run("llama-3_instruct-lora-8b.yml");
        assertTrue(llama3.err().contains("note: load_in_8bit"), llama3.err());
        run("falcon-h1_falcon-h1-500m-qlora.yaml");
    }
}
