package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The life cycle of {@code crucible quickstart}, stage by stage. Each stage writes the YAML a user would write
 * (OUT_DIR/configs, OUT_DIR/recipes) and runs the command that reads it through the same command tree as the
 * launcher, in this process: what the quickstart shows is exactly what the commands do. The data is embedded
 * (src/main/resources/dev/crucible/quickstart, made by tools/make_quickstart_data.py): two skills on digits,
 * addition ({@code add}) and the larger of two ({@code larger}).
 */
final class Quickstart {
    /** Training steps and evaluation documents of a run. */
    record Size(String name, int pretrainSteps, int chatSteps, int sftSteps, int loraSteps, int dpoSteps, Integer evalLimit) {
        static final Size FULL = new Size("full", 600, 150, 300, 150, 30, null);
        static final Size FAST = new Size("fast", 300, 150, 300, 150, 30, null);
    }

    /** A model the quickstart evaluates: its directory under OUT_DIR/models and how it was made. */
    record Model(String name, String how, List<String> sources) {
    }

    static final String[] SKILLS = {"add", "larger"};
    private static final String RESOURCES = "/dev/crucible/quickstart/";
    private static final List<String> EMBEDDED = List.of("corpus.jsonl", "raw_chat.jsonl", "raw_add.jsonl", "raw_larger.jsonl",
            "raw_preference.jsonl", "tasks/add.yaml", "tasks/add.jsonl", "tasks/larger.yaml", "tasks/larger.jsonl",
            "init/config.json", "init/tokenizer.json", "init/tokenizer_config.json", "init/chat_template.jinja");
    private static final int STAGES = 9;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path out;
    private final Size size;
    private final PrintWriter stdout;
    private final PrintWriter stderr;
    private final ObjectNode summary = JSON.createObjectNode();
    private final List<Model> models = new ArrayList<>();
    private final long start = System.nanoTime();
    private int stage;

    Quickstart(Path out, Size size, PrintWriter stdout, PrintWriter stderr) {
        this.out = out.toAbsolutePath().normalize();
        this.size = size;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    void run() {
        summary.put("size", size.name());
        embeddedData();
        recipes();
        pretrain();
        specialists();
        align();
        merges();
        evaluate();
        export();
        summary.put("seconds", seconds());
        write("summary.json", summary.toPrettyString() + "\n");
        stage("report", "report.html: loss curves, the evaluation table, what each merge did");
        write("report.html", QuickstartReport.html(out, summary, models));
        stdout.printf(Locale.ROOT, "done in %.0f s: open %s%n", seconds(), out.resolve("report.html"));
        stdout.flush();
    }

    private void embeddedData() {
        stage("data", "the embedded raw rows, pre-training corpus, evaluation tasks and model config -> "
                + out.resolve("data"));
        for (String name : EMBEDDED) {
            Path dest = out.resolve(name.startsWith("init/") ? "models/" + name : "data/" + name);
            try (InputStream in = Quickstart.class.getResourceAsStream(RESOURCES + name)) {
                if (in == null) {
                    throw new IllegalStateException("resource " + RESOURCES + name + " is missing from the jar");
                }
                Files.createDirectories(dest.getParent());
                Files.copy(in, dest, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new CrucibleException(dest + ": cannot write: " + e.getMessage(), e);
            }
        }
    }

    /** One recipe per training set: exact dedup, then decontamination against both evaluation tasks. */
    private void recipes() {
        stage("recipe", "crucible data run: SFT and preference sets from raw rows (dedup, decontamination)");
        ObjectNode data = summary.putObject("data");
        for (String[] set : new String[][]{{"chat", "messages"}, {"add", "messages"},
                {"larger", "messages"}, {"preference", "preference"}}) {
            String name = set[0];
            write("recipes/" + name + ".yml", """
                    # crucible data run: the %s set from raw rows, as a recipe over your own data would make it
                    inputs:
                      - path: ../data/raw_%s.jsonl
                        type: %s
                    steps:
                      - dedup: {method: exact}
                      # a training row sharing 5 consecutive words with an evaluation question asks that question
                      - decontaminate: {against: [../data/tasks/add.jsonl, ../data/tasks/larger.jsonl], ngram: 5}
                    output: ../data/%s.jsonl
                    report: ../data/%s.report.html
                    seed: 42
                    """.formatted(name, name, set[1], name, name));
            command("data", "run", "recipes/" + name + ".yml", "--overwrite", "--quiet");
            data.set(name, recipeCounts(name));
        }
    }

    private void pretrain() {
        stage("pre-training", "crucible train (random_init_weights): a 4-layer Llama from random weights on the corpus");
        train("pretrain", "base", """
                # Pre-training from scratch: base_model gives the architecture (config.json) and the tokenizer;
                # random_init_weights starts from fresh N(0, 0.02) weights instead of reading any.
                base_model: ../models/init
                random_init_weights: true
                datasets:
                  - path: ../data/corpus.jsonl
                    type: completion
                sequence_len: 128
                sample_packing: true
                micro_batch_size: 8
                max_steps: %d
                learning_rate: 3e-3
                lr_scheduler: cosine
                warmup_steps: 10
                weight_decay: 0.01
                logging_steps: %d
                seed: 42
                output_dir: ../models/base
                """.formatted(size.pretrainSteps(), logEvery(size.pretrainSteps())));
        models.add(new Model("base", "pre-trained from random weights on the corpus (knows the facts and the chat"
                + " markers, not the questions)", List.of()));
    }

    /**
     * One shared instruction SFT (sft-chat), then the two specialists from it. Trained from the pre-trained base
     * directly, each specialist also had to learn the chat format and short answers: their changes were large and
     * pulled apart, and every merge lost a skill (TIES kept 0.74 of 'larger', SLERP and the MoE lost 'add'). From one
     * instruction-tuned model, each change is its skill alone and the merges keep both.
     */
    private void specialists() {
        stage("SFT", "crucible train: a shared instruction SFT (sft-chat), then two specialists from it, 'add' (full)"
                + " and 'larger' (LoRA, then folded)");
        train("sft-chat", "sft-chat", sft("full fine-tuning", "chat", "base", "", size.chatSteps(), "1e-3", "sft-chat"));
        models.add(new Model("sft-chat", "full SFT of base on the general chat set (counting, digit words, small"
                + " talk): the specialists' shared start", List.of("base")));
        train("sft-add", "sft-add", sft("full fine-tuning", "add", "sft-chat", "", size.sftSteps(), "1e-3", "sft-add"));
        models.add(new Model("sft-add", "full SFT of sft-chat on the add set", List.of("sft-chat")));
        // a LoRA moves its low-rank change faster than full fine-tuning at the same rate: 3e-4 learns the skill fully
        // and keeps the change small enough not to drown addition in the merges
        train("sft-larger", "sft-larger-lora", sft("LoRA", "larger", "sft-chat", """
                adapter: lora
                lora_r: 16
                lora_alpha: 32
                lora_dropout: 0.0
                lora_target_linear: true
                """, size.loraSteps(), "3e-4", "sft-larger-lora"));
        command("lora", "merge", "models/sft-chat", "models/sft-larger-lora", "models/sft-larger", "--overwrite");
        models.add(new Model("sft-larger", "LoRA SFT of sft-chat on the larger set, folded in (crucible lora merge)",
                List.of("sft-chat")));
    }

    private String sft(String method, String set, String from, String adapterKeys, int steps, String lr, String output) {
        return """
                # Supervised fine-tuning (%s) of %s on the '%s' chats the recipe kept.
                base_model: ../models/%s
                datasets:
                  - path: ../data/%s.jsonl
                    type: messages
                chat_template: tokenizer_default
                sequence_len: 64
                train_on_inputs: false
                %smicro_batch_size: 16
                max_steps: %d
                learning_rate: %s
                lr_scheduler: cosine
                warmup_steps: 5
                logging_steps: %d
                seed: 42
                output_dir: ../models/%s
                """.formatted(method, from, set, from, set, adapterKeys, steps, lr, logEvery(steps), output);
    }

    private void align() {
        stage("DPO", "crucible train (rl: dpo): sft-add aligned to prefer right sums over wrong ones");
        train("dpo-add", "dpo-add", """
                # Preference alignment: DPO of sft-add (full), preferring the right sum over a wrong one. The reference
                # model is sft-add itself; its log-probabilities are computed once before training. sft-add already
                # prefers most right sums, and DPO keeps pushing the wrong ones down whatever the reference says,
                # dragging the right ones down with them: with beta 0.1 and 2e-4 (60 steps) the wrong answers fell 5
                # nats and a quarter of the held-out sums were lost. A larger beta (each nat of margin counts more), a
                # rate 50x below SFT's and about two passes over the 100 pairs keep the skill.
                base_model: ../models/sft-add
                rl: dpo
                rl_beta: 0.5
                datasets:
                  - path: ../data/preference.jsonl
                    type: preference
                sequence_len: 64
                micro_batch_size: 8
                max_steps: %d
                learning_rate: 2e-5
                lr_scheduler: cosine
                warmup_steps: 2
                logging_steps: %d
                seed: 42
                output_dir: ../models/dpo-add
                """.formatted(size.dpoSteps(), logEvery(size.dpoSteps())));
        models.add(new Model("dpo-add", "DPO of sft-add on the preference set", List.of("sft-add")));
    }

    private void merges() {
        stage("merge", "crucible merge / moe: TIES, SLERP, a frankenmerge and a two-expert Franken-MoE of the specialists");
        merge("ties", """
                # TIES: each specialist's change from their shared start (sft-chat) is weighted, a sign is elected per
                # weight, and the changes that agree with it are added to sft-chat; normalize divides each weight's
                # sum by the weights of the changes that agree with it (their weighted mean, not their sum). sft-add's
                # change is 1.5-5x sft-larger's (full fine-tuning against a LoRA) and outvotes it: with weights 1 and
                # 0.5 (density 0.5) the merge compared digits worse than sft-add alone in 6 of 7 training runs
                # (0.69-0.90 against 0.71-0.94). Addition lives in the first layers (as SLERP shows) and comparison
                # needs sft-larger's change in the last ones: there it counts 1.5 and 2, enough to win the sign where
                # the two disagree; a quarter in the first two. Nothing is trimmed (density 1): with these weights,
                # trimming each change to its largest half (density 0.5) lost addition (0.49-0.86 against 0.64-0.93)
                # and put comparison back below sft-add's in 6 of 8 runs; untrimmed it was above sft-add's in all 8
                # (by 0.01-0.12).
                merge_method: ties
                base_model: ../models/sft-chat
                models:
                  - model: ../models/sft-add
                    parameters: {weight: 1.0, density: 1.0}
                  - model: ../models/sft-larger
                    parameters: {weight: [0.25, 0.25, 1.5, 2], density: 1.0}
                parameters: {normalize: true}
                dtype: float32
                """, "TIES of sft-add (weight 1) and sft-larger (weight 0.25, 0.25, 1.5, 2 over the 4 layers) over"
                + " sft-chat, the weighted mean of the changes that agree with each weight's elected sign");
        merge("slerp", """
                # SLERP: every weight tensor along the great circle from sft-add (t = 0) to sft-larger (t = 1), t a
                # gradient over the 4 layers. Addition needs sft-add's whole change: halfway (t = 0.5 everywhere) it
                # was lost (0.28, chance), while comparison survives at half strength. So the first two layers come
                # whole from sft-add, the third a third of the way and the last most of the way to sft-larger: over 8
                # training runs addition 0.54-0.93 (t = 0, 0, 0.5, 1: 0.40-0.93), comparison above sft-add's in all 8.
                merge_method: slerp
                base_model: ../models/sft-add
                models:
                  - model: ../models/sft-add
                  - model: ../models/sft-larger
                parameters:
                  t: [0, 0, 0.35, 0.85]
                dtype: float32
                """, "SLERP from sft-add to sft-larger, t = 0, 0, 0.35, 0.85 over the 4 layers");
        merge("frankenmerge", """
                # A frankenmerge (passthrough), 6 layers: the first 3 of sft-add, where the sum is computed, layers 2
                # and 3 of sft-larger for comparison, and sft-add's last layer, which reads the answer out. Over 8
                # training runs it kept addition (0.84-0.95) and compared digits at least as well as sft-add in 7
                # (0.03 below in the other); sft-larger's last layer stacked on all of sft-add (5 layers) was below
                # sft-add in 3 of the 8, by up to 0.1.
                merge_method: passthrough
                slices:
                  - sources: [{model: ../models/sft-add, layer_range: [0, 3]}]
                  - sources: [{model: ../models/sft-larger, layer_range: [2, 4]}]
                  - sources: [{model: ../models/sft-add, layer_range: [3, 4]}]
                dtype: float32
                """, "passthrough: layers 0-2 of sft-add, layers 2-3 of sft-larger, layer 3 of sft-add (6 layers, no"
                + " training)");
        write("configs/moe.yml", """
                # A Franken-MoE: the specialists' MLPs become two experts of a Mixtral; attention and embeddings come
                # from base_model; each token's router prefers the expert whose prompts its hidden state resembles.
                # Addition lives in sft-add's attention as much as in its MLPs: with sft-chat's attention neither
                # expert adds (0.25, even routing both experts), so base_model is sft-add, as a Franken-MoE is
                # usually built on one of its experts' models; comparison needs only sft-larger's MLPs.
                base_model: ../models/sft-add
                gate_mode: hidden
                dtype: float32
                experts_per_token: 1
                experts:
                  - source_model: ../models/sft-add
                    positive_prompts: ["What is 3 plus 4?", "Add 2 and 5.", "6 + 1 = ?", "Please sum 8 and 9."]
                  - source_model: ../models/sft-larger
                    positive_prompts: ["Which is larger, 3 or 8?", "What is the larger of 2 and 5?", "Larger of 6 and 1?"]
                """);
        command("moe", "configs/moe.yml", "models/moe", "--overwrite", "--quiet");
        models.add(new Model("moe", "Franken-MoE: the MLPs of sft-add and sft-larger as two experts (top-1 routing by"
                + " hidden state), attention from sft-add", List.of("sft-add", "sft-larger")));
    }

    private void merge(String name, String config, String how) {
        write("configs/" + name + ".yml", config);
        command("merge", "configs/" + name + ".yml", "models/" + name, "--overwrite", "--quiet");
        models.add(new Model(name, how, List.of("sft-add", "sft-larger")));
    }

    /** Every model on both skills' tasks, then the side-by-side comparison. */
    private void evaluate() {
        stage("evaluation", "crucible eval tasks: every model on the add and larger tasks; eval compare side by side");
        ObjectNode scores = summary.putObject("scores");
        ObjectNode standardErrors = summary.putObject("stderr");
        List<String> dirs = new ArrayList<>();
        for (Model m : models) {
            List<String> args = new ArrayList<>(List.of("eval", "tasks", "models/" + m.name(), "--tasks",
                    "data/tasks/add.yaml,data/tasks/larger.yaml", "--output-path", "eval/" + m.name()));
            if (size.evalLimit() != null) {
                args.addAll(List.of("--limit", String.valueOf(size.evalLimit())));
            }
            stdout.println("-- " + m.name());
            command(args.toArray(String[]::new));
            JsonNode results = latestResults(out.resolve("eval/" + m.name())).path("results");
            ObjectNode s = scores.putObject(m.name());
            ObjectNode e = standardErrors.putObject(m.name());
            for (String skill : SKILLS) {
                s.put(skill, results.path("qs_" + skill).path("acc,none").asDouble(Double.NaN));
                e.put(skill, results.path("qs_" + skill).path("acc_stderr,none").asDouble(Double.NaN));
            }
            dirs.add("eval/" + m.name());
        }
        List<String> compare = new ArrayList<>(List.of("eval", "compare"));
        compare.addAll(dirs);
        compare.addAll(List.of("--html", "eval/comparison.html", "--force"));
        command(compare.toArray(String[]::new));
    }

    /** The model with the best mean score, exported to GGUF (q8_0), then asked a question through the file. */
    private void export() {
        String best = null;
        double bestMean = -1;
        for (Map.Entry<String, Double> e : means(summary.path("scores")).entrySet()) {
            if (e.getValue() > bestMean) {
                bestMean = e.getValue();
                best = e.getKey();
            }
        }
        stage("GGUF", "crucible export gguf: the best model by mean score (" + best + ") as q8_0 for llama.cpp");
        Path gguf = out.resolve("gguf/" + best + ".q8_0.gguf");
        command("export", "gguf", "models/" + best, "gguf/" + best + ".q8_0.gguf", "--outtype", "q8_0", "--pre", "gpt-2",
                "--overwrite");
        ObjectNode g = summary.putObject("gguf");
        g.put("model", best);
        g.put("file", out.relativize(gguf).toString());
        try {
            g.put("bytes", Files.size(gguf));
        } catch (IOException e) {
            throw new CrucibleException(gguf + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Writes configs/NAME.yml, whose output_dir is models/OUTPUT, and trains it. */
    private void train(String name, String output, String config) {
        write("configs/" + name + ".yml", config);
        command("train", "configs/" + name + ".yml", "--overwrite");
        ObjectNode runs = summary.has("runs") ? (ObjectNode) summary.get("runs") : summary.putObject("runs");
        runs.set(name, trainingLog(out.resolve("models/" + output + "/metrics.jsonl")));
    }

    /** The run's logged rows (step, loss, and a preference run's rewards), for the report and the test. */
    private static JsonNode trainingLog(Path metrics) {
        var rows = JSON.createArrayNode();
        try (Stream<String> lines = Files.lines(metrics)) {
            for (String line : lines.filter(l -> !l.isBlank()).toList()) {
                JsonNode row = JSON.readTree(line);
                if (row.has("loss")) {
                    rows.add(row);
                }
            }
        } catch (IOException e) {
            throw new CrucibleException(metrics + ": cannot read: " + e.getMessage(), e);
        }
        return rows;
    }

    /** Rows kept and removed by each step of a recipe, from its output and removed files. */
    private JsonNode recipeCounts(String name) {
        ObjectNode counts = JSON.createObjectNode();
        counts.put("kept", lines(out.resolve("data/" + name + ".jsonl")).size());
        ObjectNode removed = counts.putObject("removed");
        for (String line : lines(out.resolve("data/" + name + ".removed.jsonl"))) {
            try {
                String by = JSON.readTree(line).path("removed_by").asText();
                removed.put(by, removed.path(by).asInt() + 1);
            } catch (IOException e) {
                throw new CrucibleException(name + ".removed.jsonl: " + e.getMessage(), e);
            }
        }
        return counts;
    }

    private static List<String> lines(Path file) {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.filter(l -> !l.isBlank()).toList();
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The newest results_*.json under an eval --output-path directory. */
    private static JsonNode latestResults(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            Path newest = files.filter(p -> p.getFileName().toString().matches("results_.*\\.json"))
                    .max((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                    .orElseThrow(() -> new CrucibleException(dir + ": no results file"));
            return JSON.readTree(newest.toFile());
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot read results: " + e.getMessage(), e);
        }
    }

    /** Runs {@code crucible ARGS} in this process, relative paths under OUT_DIR; a failure stops the quickstart. */
    private void command(String... args) {
        String[] resolved = args.clone();
        for (int i = 0; i < resolved.length; i++) {
            if (resolved[i].matches("(configs|recipes|models|data|eval|gguf)/.*")) {
                resolved[i] = String.join(",", Stream.of(resolved[i].split(","))
                        .map(p -> out.resolve(p).toString()).toList());
            }
        }
        stdout.println("$ crucible " + String.join(" ", args));
        stdout.flush();
        CommandLine cli = Main.commandLine();
        cli.setOut(stdout);
        cli.setErr(stderr);
        int rc = cli.execute(resolved);
        if (rc != 0) {
            throw new CrucibleException("quickstart stopped at stage '" + summary.path("stage").asText()
                    + "': crucible " + String.join(" ", args) + " failed (exit " + rc + ", see above)");
        }
    }

    private void stage(String name, String what) {
        stage++;
        summary.put("stage", name);
        stdout.printf(Locale.ROOT, "%n[%d/%d %4.0fs] %s: %s%n", stage, STAGES, seconds(), name, what);
        stdout.flush();
    }

    private void write(String relative, String text) {
        Path file = out.resolve(relative);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
            Files.writeString(tmp, text);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    private static int logEvery(int steps) {
        return Math.max(1, steps / 30);
    }

    /**
     * How a merge's score on a skill compares with the weaker of its sources: 1 when it reaches it, 0 when it is below
     * by less than two of that source's standard errors (with 100 and 90 questions, 0.06 around 0.9: a difference the
     * evaluation cannot tell from noise), -1 below that.
     */
    static int againstWeakerSource(JsonNode summary, Model merge, String skill) {
        String weaker = null;
        for (String source : merge.sources()) {
            if (weaker == null || summary.path("scores").path(source).path(skill).asDouble()
                    < summary.path("scores").path(weaker).path(skill).asDouble()) {
                weaker = source;
            }
        }
        double score = summary.path("scores").path(merge.name()).path(skill).asDouble();
        double floor = summary.path("scores").path(weaker).path(skill).asDouble();
        return score >= floor ? 1 : score >= floor - 2 * summary.path("stderr").path(weaker).path(skill).asDouble() ? 0 : -1;
    }

    /** The skills' mean score of each model, for choosing and reporting. */
    static Map<String, Double> means(JsonNode scores) {
        Map<String, Double> out = new LinkedHashMap<>();
        scores.fields().forEachRemaining(e -> out.put(e.getKey(),
                (e.getValue().path("add").asDouble() + e.getValue().path("larger").asDouble()) / 2));
        return out;
    }
}
