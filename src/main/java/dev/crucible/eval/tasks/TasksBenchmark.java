package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.merge.SyntheticModels;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code crucible bench eval-tasks}: requests/s of a 4-choice, 5-shot multiple-choice task (about 600 tokens of
 * context) on a SmolLM2-135M-shaped model with random weights. {@link #prepare} writes the model, the task file and
 * its data into a directory that lm-eval's HF backend runs too (tools/lm_eval_bench.sh), side by side.
 */
public final class TasksBenchmark {
    private static final String TASK = """
            task: bench_mc
            dataset_path: json
            dataset_kwargs:
              data_files:
                train: data/train.jsonl
                test: data/test.jsonl
            training_split: train
            test_split: test
            output_type: multiple_choice
            num_fewshot: 5
            doc_to_text: "Question: {{question}}\\nAnswer:"
            doc_to_choice: choices
            doc_to_target: label
            metric_list:
              - metric: acc
              - metric: acc_norm
            """;
    private static final String[] WORDS = ("time year people way day man thing woman life child world school state "
            + "family student group country problem hand part place case week company system program question work "
            + "government number night point home water room mother area money story fact month lot right study book "
            + "eye job word business issue side kind head house service friend father power hour game line end member "
            + "law car city community name president team minute idea kid body information back parent face others "
            + "level office door health person art war history party result change morning reason research girl guy "
            + "moment air teacher force education").split(" ");

    private TasksBenchmark() {
    }

    /** Writes DIR/model (skipped when present), DIR/tasks/bench_mc.yaml and its data; returns the task file. */
    public static Path prepare(Path dir, Path tokenizerDir, int testDocs) {
        try {
            Path model = dir.resolve("model");
            if (!Files.isRegularFile(model.resolve("model.safetensors"))) {
                SyntheticModels.writeTied(model, SyntheticModels.Shape.SMOLLM_135M, Runtime.getRuntime().availableProcessors());
            }
            for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
                Path src = tokenizerDir.resolve(f);
                if (!Files.isRegularFile(src)) {
                    throw new CrucibleException(src + ": not found (--tokenizer needs a tokenizer.json and tokenizer_config.json)");
                }
                Files.copy(src, model.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            Path data = dir.resolve("tasks/data");
            Files.createDirectories(data);
            SplittableRandom rnd = new SplittableRandom(20);
            Files.writeString(data.resolve("train.jsonl"), docs(rnd, 40));
            Files.writeString(data.resolve("test.jsonl"), docs(rnd, testDocs));
            Path task = dir.resolve("tasks/bench_mc.yaml");
            Files.writeString(task, TASK);
            return task;
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write the benchmark files: " + e.getMessage(), e);
        }
    }

    private static String docs(SplittableRandom rnd, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            List<Object> choices = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                choices.add(words(rnd, 1 + rnd.nextInt(3)));
            }
            Map<String, Object> doc = new java.util.LinkedHashMap<>();
            doc.put("question", words(rnd, 18) + "?");
            doc.put("choices", choices);
            doc.put("label", (long) rnd.nextInt(4));
            sb.append(PythonJson.dumps(doc, 0)).append('\n');
        }
        return sb.toString();
    }

    private static String words(SplittableRandom rnd, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(WORDS[rnd.nextInt(WORDS.length)]);
        }
        return sb.toString();
    }

    /** Runs the task once and prints one JSON line: requests, seconds of the request phase, requests/s. */
    public static void run(Path dir, PrintStream out) {
        long t0 = System.nanoTime();
        TaskRegistry registry = new TaskRegistry(List.of(), Map.of());
        TaskRegistry.Loaded loaded = registry.load(List.of(dir.resolve("tasks/bench_mc.yaml").toString()));
        long[] phase = new long[2];
        long[] requests = new long[1];
        try (EvalModel model = new EvalModel(dir.resolve("model"), null)) {
            Evaluator.Outcome o = Evaluator.evaluate(model, loaded, new DatasetSource(List.of()),
                    new Evaluator.Options(null, null, 1234L, 100000, true, null, false, false), (type, total) -> {
                        phase[0] = System.nanoTime();
                        requests[0] = total;
                        return done -> {
                            if (done == total) {
                                phase[1] = System.nanoTime();
                            }
                        };
                    });
            double tokens = 0;
            int contexts = 0;
            for (Map<String, Object> s : o.samples().get("bench_mc")) {
                List<?> args = (List<?>) ((List<?>) s.get("arguments")).getFirst();
                tokens += model.encode((String) args.getFirst()).length;
                contexts++;
            }
            double seconds = (phase[1] - phase[0]) / 1e9;
            out.printf(Locale.ROOT, "{\"bench\": \"eval-tasks\", \"requests\": %d, \"docs\": %d, \"context_tokens_mean\": %.0f, "
                            + "\"request_seconds\": %.2f, \"requests_per_s\": %.3f, \"end_to_end_seconds\": %.2f, "
                            + "\"threads\": %d}%n", requests[0], contexts, tokens / contexts, seconds,
                    requests[0] / seconds, (System.nanoTime() - t0) / 1e9, dev.crucible.tensor.Parallel.threads());
        }
    }
}
