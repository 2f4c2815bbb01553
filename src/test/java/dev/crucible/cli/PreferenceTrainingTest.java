package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.PreferenceFixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crucible train} with {@code rl:} against TRL 1.13 itself: for every method (DPO, robust DPO, IPO, ORPO,
 * SimPO, KTO, and DPO with {@code rpo_alpha} 0.5 against TRL's {@code loss_type [sigmoid, sft]},
 * {@code loss_weights [1, 0.5]} from {@code tools/preference_rpo_reference.py}), full fine-tuning and LoRA (from the fixed adapter of {@code lora_model_dir}), three steps whose
 * micro-batch holds every row, so data order cannot matter; each metric TRL logs equals Crucible's
 * {@code metrics.jsonl} within 1e-4 relative ({@code tools/preference_reference.py} measured TRL's own noise between 1
 * and 2 threads: below 1e-6). The reference runs every step, and, for DPO and KTO, precomputed too.
 *
 * <p>Values TRL computes as differences of summed log-probabilities (rewards, margins, KTO's KL) are exactly 0 at the
 * first step, where policy and reference are the same model; float32 sums of ~100 nats differ in their last bits
 * between two forwards, so those get an absolute allowance of 2e-6 of the run's largest summed log-probability, and
 * reward accuracy is not compared where TRL's rewards tie exactly (it counts a tie as wrong; a last-bit difference
 * decides it either way).
 */
class PreferenceTrainingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path temp;
    private static Path model;
    private static JsonNode runs;

    @BeforeAll
    static void fixture() throws IOException {
        model = PreferenceFixture.modelDir(temp.resolve("model"));
        ObjectNode all = (ObjectNode) JSON.readTree(PreferenceFixture.DIR.resolve("metrics.json").toFile()).get("runs");
        all.setAll((ObjectNode) JSON.readTree(PreferenceFixture.DIR.resolve("rpo_metrics.json").toFile()).get("runs"));
        runs = all;
    }

    static Stream<Arguments> runs() {
        List<Arguments> out = new ArrayList<>();
        for (String method : List.of("dpo", "dpo_robust", "ipo", "orpo", "simpo", "kto", "rpo")) {
            for (String kind : List.of("full", "lora")) {
                out.add(Arguments.of(method, kind, false, false));
                if (method.equals("dpo") || method.equals("kto") || method.equals("rpo")) {
                    out.add(Arguments.of(method, kind, true, false));
                }
            }
        }
        for (String method : List.of("dpo_robust", "ipo", "rpo")) { // as Axolotl's current schema writes them
            out.add(Arguments.of(method, "full", false, true));
        }
        return out.stream();
    }

    /**
     * The config that asks Crucible for what the reference script asked TRL; {@code lossTypes}: robust DPO, IPO and RPO
     * in Axolotl's current form, {@code rl: dpo} with {@code dpo_loss_type} (and {@code dpo_loss_weights}).
     */
    static Path config(Path dir, String method, String kind, boolean precompute, JsonNode run, boolean lossTypes)
            throws IOException {
        Files.createDirectories(dir);
        String data = run.get("data").asText();
        long rows = Files.readAllLines(PreferenceFixture.DATA.resolve(data + ".jsonl")).stream()
                .filter(l -> !l.isBlank()).count();
        StringBuilder y = new StringBuilder();
        y.append("base_model: ").append(model.toAbsolutePath()).append('\n');
        boolean dpo = method.equals("dpo_robust") || method.equals("rpo") || (lossTypes && method.equals("ipo"));
        y.append("rl: ").append(dpo ? "dpo" : method).append('\n');
        if (lossTypes) {
            y.append(switch (method) {
                case "dpo_robust" -> "dpo_loss_type: [robust]\n";
                case "ipo" -> "dpo_loss_type: [ipo]\n";
                default -> "dpo_loss_type: [sigmoid, sft]\ndpo_loss_weights: [1.0, 0.5]\n";
            });
        }
        y.append("rl_beta: ").append(method.equals("simpo") ? 2.0 : 0.1).append('\n');
        if (method.equals("dpo_robust")) {
            y.append("dpo_label_smoothing: 0.1\n");
        }
        if (method.equals("rpo") && !lossTypes) {
            y.append("rpo_alpha: 0.5\n");
        }
        if (method.equals("simpo")) {
            y.append("simpo_gamma: 0.5\ncpo_alpha: 0.5\n");
        }
        if (!method.equals("orpo") && !method.equals("simpo")) {
            y.append("precompute_ref_log_probs: ").append(precompute).append('\n');
        }
        y.append("datasets:\n  - path: ").append(PreferenceFixture.DATA.resolve(data + ".jsonl").toAbsolutePath())
                .append("\n    type: ").append(method.equals("kto") ? "kto" : "preference").append('\n');
        y.append("sequence_len: ").append(run.get("max_length").asInt()).append('\n');
        if (kind.equals("lora")) {
            y.append("adapter: lora\nlora_model_dir: ").append(PreferenceFixture.ADAPTER.toAbsolutePath()).append('\n');
        }
        y.append(String.format(Locale.ROOT, """
                micro_batch_size: %d
                gradient_accumulation_steps: 1
                max_steps: 3
                learning_rate: %s
                lr_scheduler: cosine
                warmup_steps: 0
                weight_decay: 0.0
                max_grad_norm: 1.0
                optimizer: adamw_torch
                logging_steps: 1
                output_dir: out
                """, rows, run.get("learning_rate").asText()));
        Path cfg = dir.resolve("config.yml");
        Files.writeString(cfg, y.toString());
        return cfg;
    }

    @ParameterizedTest(name = "{0} {1} precompute={2} dpo_loss_type={3}")
    @MethodSource("runs")
    void everyStepMatchesTrl(String method, String kind, boolean precompute, boolean lossTypes) throws IOException {
        JsonNode run = runs.get(method + "/" + kind);
        Path dir = temp.resolve(method + "-" + kind + "-" + precompute + (lossTypes ? "-loss-type" : ""));
        CliRun result = CliRun.of("train", config(dir, method, kind, precompute, run, lossTypes).toString());
        assertEquals(0, result.exitCode(), result.err());
        List<String> rows = Files.readAllLines(dir.resolve("out/metrics.jsonl"));
        JsonNode trl = run.get("threads2");
        assertEquals(trl.size(), rows.size(), "one metrics row per step");
        // TRL's ORPO and CPO average the logits over the padded batch, padding included; Crucible over real tokens
        Set<String> skip = method.equals("orpo") || method.equals("simpo")
                ? Set.of("epoch", "logits/chosen", "logits/rejected") : Set.of("epoch");
        double logps = 1;
        for (JsonNode step : trl) {
            logps = Math.max(logps, Math.max(Math.abs(step.path("logps/chosen").asDouble()),
                    Math.abs(step.path("logps/rejected").asDouble())));
        }
        double worst = 0;
        String worstKey = "";
        for (int s = 0; s < trl.size(); s++) {
            JsonNode want = trl.get(s);
            JsonNode got = JSON.readTree(rows.get(s));
            boolean tie = want.path("rewards/chosen").asDouble() == want.path("rewards/rejected").asDouble();
            for (var it = want.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (skip.contains(e.getKey()) || tie && e.getKey().equals("rewards/accuracies")) {
                    continue;
                }
                boolean difference = e.getKey().startsWith("rewards/") || e.getKey().equals("kl");
                assertTrue(got.has(e.getKey()), "step " + (s + 1) + " has no " + e.getKey() + ": " + got);
                double w = e.getValue().asDouble();
                double g = got.get(e.getKey()).asDouble();
                double err = Math.abs(g - w) / Math.max(Math.abs(w), 1e-2);
                if (err > worst) {
                    worst = err;
                    worstKey = "step " + (s + 1) + " " + e.getKey() + ": TRL " + w + ", Crucible " + g;
                }
                double allowance = difference ? 2e-6 * logps : 1e-6;
                assertEquals(w, g, 1e-4 * Math.abs(w) + allowance, method + " " + kind + " step " + (s + 1) + " " + e.getKey());
            }
        }
        System.out.printf(Locale.ROOT, "%s %s precompute=%s: worst %.2e (%s)%n", method, kind, precompute, worst, worstKey);
    }
}
