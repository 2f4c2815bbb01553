package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.eval.tasks.DatasetSource;
import dev.crucible.eval.tasks.EvalModel;
import dev.crucible.eval.tasks.Evaluator;
import dev.crucible.eval.tasks.ResultsFiles;
import dev.crucible.eval.tasks.ResultsTable;
import dev.crucible.eval.tasks.RunInfo;
import dev.crucible.eval.tasks.TaskRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code crucible eval tasks}: lm-evaluation-harness task files run on Crucible's runtime, flag for flag as
 * {@code lm_eval --model hf --model_args pretrained=MODEL_DIR ...} (lm-eval's underscore spellings are accepted).
 */
@Command(name = "tasks", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run lm-evaluation-harness tasks (its task YAML files, unchanged) on a model, with lm-eval's "
                + "numbers and output files.",
                "Built-in: the Open LLM Leaderboard v1 tasks (arc_challenge, hellaswag, mmlu, truthfulqa_mc2, "
                        + "winogrande, gsm8k; group open_llm_leaderboard) reading datasets from --data-dir."})
final class EvalTasksCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "Hugging Face model directory (lm-eval's pretrained=)")
    Path modelDir;

    @Option(names = {"--tasks", "-t"}, required = true, split = ",", paramLabel = "NAME_OR_YAML",
            description = "task, group or tag names (globs allowed) or task YAML files, comma-separated")
    List<String> tasks;

    @Option(names = {"--include-path", "--include_path"}, paramLabel = "DIR",
            description = "directory of more task files (searched recursively; repeatable)")
    List<Path> includePaths = new ArrayList<>();

    @Option(names = {"--num-fewshot", "--num_fewshot", "-f"}, paramLabel = "N",
            description = "few-shot examples (overrides the task's, except a task that sets 0)")
    Integer numFewshot;

    @Option(names = {"--limit", "-L"}, paramLabel = "N", description = "documents per task: a count, or a fraction below 1")
    Double limit;

    @Option(names = {"--batch-size", "--batch_size", "-b"}, paramLabel = "N", defaultValue = "1",
            description = "accepted for lm-eval compatibility ('auto' too); Crucible batches by shared prefixes")
    String batchSize;

    @Option(names = {"--output-path", "--output_path", "-o"}, paramLabel = "DIR",
            description = "write results (and samples) as lm-eval does: DIR/MODEL/results_DATE.json")
    Path outputPath;

    @Option(names = {"--log-samples", "--log_samples", "-s"},
            description = "also write samples_TASK_DATE.jsonl per task (needs --output-path)")
    boolean logSamples;

    @Option(names = "--seed", paramLabel = "SEEDS", defaultValue = "0,1234,1234,1234",
            description = "python,numpy,torch,fewshot seeds as lm-eval (one number sets all); the few-shot draw uses "
                    + "the fourth; default ${DEFAULT-VALUE}")
    String seed;

    @Option(names = {"--apply-chat-template", "--apply_chat_template"},
            description = "format prompts with the model's chat template (few-shot as multi-turn)")
    boolean applyChatTemplate;

    @Option(names = {"--fewshot-as-multiturn", "--fewshot_as_multiturn"}, arity = "0..1", fallbackValue = "true",
            paramLabel = "BOOL", description = "few-shot examples as chat turns (default: true with a chat template)")
    Boolean fewshotAsMultiturn;

    @Option(names = {"--system-instruction", "--system_instruction"}, paramLabel = "TEXT",
            description = "system instruction before the prompt")
    String systemInstruction;

    @Option(names = {"--gen-kwargs", "--gen_kwargs"}, paramLabel = "K=V,...",
            description = "generation arguments added to every generate_until task (e.g. max_gen_toks=64)")
    String genKwargs;

    @Option(names = {"--max-length", "--max_length"}, paramLabel = "TOKENS",
            description = "the model's maximum length (lm-eval's max_length model argument); default from config.json")
    Integer maxLength;

    @Option(names = {"--bootstrap-iters", "--bootstrap_iters"}, defaultValue = "100000", paramLabel = "N",
            description = "bootstrap resamples for standard errors without a closed form (0: none); default ${DEFAULT-VALUE}")
    int bootstrapIters;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "where downloaded datasets are (DIR/ORG/NAME, as huggingface-cli download --local-dir); "
                    + "repeatable; the Hugging Face hub cache is searched too")
    List<Path> dataDirs = new ArrayList<>();

    @Override
    public Integer call() {
        if (!Files.isDirectory(modelDir)) {
            throw new CrucibleException(modelDir + ": model directory not found");
        }
        if (logSamples && outputPath == null) {
            throw new CrucibleException("--log-samples needs --output-path (where to write the samples)");
        }
        if (!batchSize.equals("auto") && !batchSize.startsWith("auto:") && !batchSize.matches("\\d+")) {
            throw new CrucibleException("--batch-size must be a number or auto, got " + batchSize);
        }
        if (limit != null && limit <= 0) {
            throw new CrucibleException("--limit must be positive");
        }
        if (fewshotAsMultiturn != null && fewshotAsMultiturn && !applyChatTemplate) {
            throw new CrucibleException("--fewshot-as-multiturn needs --apply-chat-template");
        }
        Long fewshotSeed = fewshotSeed(seed);
        Map<String, Object> gen = RunInfo.parseGenKwargs(genKwargs);
        Map<String, Object> modelArgs = new LinkedHashMap<>();
        modelArgs.put("pretrained", modelDir.toString());
        if (maxLength != null) {
            modelArgs.put("max_length", (long) maxLength);
        }
        TaskRegistry registry = new TaskRegistry(includePaths, modelArgs);
        TaskRegistry.Loaded loaded = registry.load(tasks);
        RunInfo.applyGenKwargs(loaded, gen);
        DatasetSource data = new DatasetSource(dataDirs);
        PrintWriter out = spec.commandLine().getOut();
        boolean multiturn = fewshotAsMultiturn != null ? fewshotAsMultiturn : applyChatTemplate;
        double start = System.currentTimeMillis() / 1000.0;
        long t0 = System.nanoTime();
        try (EvalModel model = new EvalModel(modelDir, maxLength)) {
            Evaluator.Options options = new Evaluator.Options(numFewshot, limit, fewshotSeed, bootstrapIters, logSamples,
                    systemInstruction, applyChatTemplate, multiturn);
            Evaluator.Outcome outcome = Evaluator.evaluate(model, loaded, data, options, (type, total) -> {
                ProgressBar bar = new ProgressBar(System.err, "Running " + type + " requests", "requests", true); // plain lines off a terminal
                bar.update(0, total, 0, 0);
                return done -> bar.update(done, total, 0, 0);
            });
            Map<String, Object> results = RunInfo.complete(outcome.results(), model, modelArgs, batchSize, limit,
                    bootstrapIters, gen, seed, start, systemInstruction, applyChatTemplate ? multiturn : null,
                    applyChatTemplate, (System.nanoTime() - t0) / 1e9);
            if (outputPath != null) {
                Path file = ResultsFiles.write(outputPath, modelDir.toString(), results,
                        logSamples ? outcome.samples() : null);
                System.err.println("results written to " + file);
            }
            out.println("crucible (" + argString(modelArgs) + "), gen_kwargs: (" + (gen.isEmpty() ? "{}" : gen)
                    + "), limit: " + (limit == null ? "None" : limit) + ", num_fewshot: "
                    + (numFewshot == null ? "None" : numFewshot) + ", batch_size: " + batchSize);
            out.print(ResultsTable.render(results, "results"));
            if (results.containsKey("groups")) {
                out.println();
                out.print(ResultsTable.render(results, "groups"));
            }
            out.flush();
        }
        return 0;
    }

    private static String argString(Map<String, Object> args) {
        List<String> parts = new ArrayList<>();
        args.forEach((k, v) -> parts.add(k + "=" + v));
        return String.join(",", parts);
    }

    /** lm-eval's --seed: one integer for all four seeds, or four comma-separated values ('None' leaves one unset). */
    static Long fewshotSeed(String seed) {
        String[] parts = seed.split(",");
        if (parts.length != 1 && parts.length != 4) {
            throw new CrucibleException("--seed takes one integer or four comma-separated values, got " + seed);
        }
        String f = parts[parts.length - 1].strip();
        if (f.equals("None")) {
            throw new CrucibleException("--seed: the few-shot seed must be set (None draws from the OS in lm-eval)");
        }
        try {
            return Long.parseLong(f);
        } catch (NumberFormatException e) {
            throw new CrucibleException("--seed: not an integer: " + f);
        }
    }
}
