package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training is a pure function of config, data and seed: each run here is `crucible sft` in a fresh JVM, and the
 * adapters and metrics must agree bit for bit between a run whose hot loops C2 compiles and one that never leaves C1
 * (the Vector API's fallback code, which every run executes until the JIT has warmed up: two plain runs used to
 * diverge from about step 3 because C2 sums lanes and computes exp differently), between the default thread count
 * and one thread, and between an uninterrupted run and one resumed from its half-way checkpoint in a new process.
 */
class SftReproducibilityTest {
    private static final int STEPS = 6;

    @TempDir
    Path tmp;

    @Test
    void runsAreBitIdenticalAcrossJvmsJitTiersThreadsAndResume() throws Exception {
        Path model = tmp.resolve("model");
        Files.createDirectories(model);
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(Path.of("testdata/hf/models/llama").resolve(f), model.resolve(f));
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(Path.of("testdata/hf/tokenizers/bytelevel_bpe").resolve(f), model.resolve(f));
        }
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            rows.append("{\"messages\": [{\"role\": \"user\", \"content\": \"what is ").append(i % 9).append(" times ")
                    .append(i % 4).append("?\"}, {\"role\": \"assistant\", \"content\": \"").append((i % 9) * (i % 4))
                    .append("\"}]}\n");
        }
        Files.writeString(tmp.resolve("chats.jsonl"), rows);

        Path straight = train("straight", "", List.of());
        Path c1Only = train("c1", "", List.of("-XX:TieredStopAtLevel=1"));
        Path oneThread = train("one-thread", "", List.of("-Dcrucible.threads=1"));
        Path resumed = tmp.resolve("resumed");
        copyTree(straight.resolve("checkpoint-" + STEPS / 2), tmp.resolve("half"));
        train("resumed", "resume_from_checkpoint: half\n", List.of());

        Map<Integer, String> reference = metrics(straight);
        assertEquals(STEPS, reference.size(), reference.toString());
        for (Path other : List.of(c1Only, oneThread)) {
            assertEquals(reference, metrics(other), other.getFileName() + ": metrics");
            assertArrayEquals(adapter(straight), adapter(other), other.getFileName() + ": adapter bytes");
        }
        Map<Integer, String> tail = new TreeMap<>(reference);
        tail.keySet().removeIf(step -> step <= STEPS / 2);
        Map<Integer, String> resumedTail = new TreeMap<>(metrics(resumed));
        resumedTail.keySet().removeIf(step -> step <= STEPS / 2);
        assertEquals(tail, resumedTail, "metrics after resuming");
        assertArrayEquals(adapter(straight), adapter(resumed), "adapter after resuming");
    }

    /** `crucible sft` in a new JVM with {@code jvmOptions}; returns its output directory. */
    private Path train(String name, String extra, List<String> jvmOptions) throws Exception {
        Path cfg = tmp.resolve(name + ".yml");
        Files.writeString(cfg, """
                base_model: model
                datasets:
                  - path: chats.jsonl
                    type: messages
                sequence_len: 64
                adapter: lora
                lora_r: 8
                lora_alpha: 16
                lora_dropout: 0.1
                lora_target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
                micro_batch_size: 4
                gradient_accumulation_steps: 2
                max_steps: %d
                save_steps: %d
                learning_rate: 2e-2
                lr_scheduler: cosine
                warmup_steps: 1
                val_set_size: 4
                eval_steps: 2
                seed: 11
                output_dir: %s
                """.formatted(STEPS, STEPS / 2, name) + extra);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.crucible.cli.Main", "sft", cfg.toString()));
        Process p = new ProcessBuilder(command).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve(name + ".log").toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), name + " did not finish");
        assertEquals(0, p.exitValue(), name + ": " + Files.readString(tmp.resolve(name + ".log")));
        return tmp.resolve(name);
    }

    /** metrics.jsonl by step, without the wall-clock field. */
    private static Map<Integer, String> metrics(Path out) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<Integer, String> byStep = new TreeMap<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            ObjectNode row = (ObjectNode) json.readTree(line);
            row.remove("tokens_per_second");
            byStep.put(row.get("step").asInt(), row.toString());
        }
        return byStep;
    }

    private static byte[] adapter(Path out) throws IOException {
        return Files.readAllBytes(out.resolve("adapter_model.safetensors"));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }
}
