package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.TensorInfo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The run-level parts of lm-eval's results file ({@code config}, tokenizer, timing and model-name keys) and the
 * {@code --gen_kwargs} handling, so that a Crucible results file reads like lm-eval's to the tools that parse it.
 */
public final class RunInfo {
    private RunInfo() {
    }

    /** lm-eval's simple_parse_args_string: {@code k=v,k2=v2} with true/false, integers and floats recognised. */
    public static Map<String, Object> parseGenKwargs(String text) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (text == null || text.isBlank()) {
            return out;
        }
        for (String part : text.strip().split(",")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 0) {
                throw new CrucibleException("--gen-kwargs: expected key=value, got " + part);
            }
            String v = part.substring(eq + 1);
            Object value;
            if (v.equalsIgnoreCase("true")) {
                value = true;
            } else if (v.equalsIgnoreCase("false")) {
                value = false;
            } else if (v.matches("\\d+")) {
                value = Long.parseLong(v);
            } else {
                try {
                    value = Double.parseDouble(v);
                } catch (NumberFormatException e) {
                    value = v;
                }
            }
            out.put(part.substring(0, eq), value);
        }
        return out;
    }

    /** Updates the generation_kwargs of every generate_until task, as lm-eval's {@code --gen_kwargs} does. */
    public static void applyGenKwargs(TaskRegistry.Loaded loaded, Map<String, Object> gen) {
        if (gen.isEmpty()) {
            return;
        }
        for (TaskSpec t : loaded.tasks().values()) {
            if (t.config().outputType().equals("generate_until")) {
                t.config().map("generation_kwargs").putAll(gen);
            }
        }
    }

    /** The results with lm-eval's run keys added after its evaluation keys. */
    public static Map<String, Object> complete(Map<String, Object> results, EvalModel model, Map<String, Object> modelArgs,
                                               String batchSize, Double limit, int bootstrapIters,
                                               Map<String, Object> gen, String seeds, double startEpochSeconds,
                                               String systemInstruction, Boolean fewshotAsMultiturn,
                                               boolean chatTemplate, double seconds) {
        Map<String, Object> out = new LinkedHashMap<>(results);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", "crucible");
        config.put("model_args", modelArgs);
        config.put("model_num_parameters", parameters(model));
        config.put("model_dtype", "float32");
        config.put("model_revision", "main");
        config.put("model_sha", "");
        config.put("batch_size", batchSize.matches("\\d+") ? (Object) Long.parseLong(batchSize) : batchSize);
        config.put("batch_sizes", List.of());
        config.put("device", "cpu");
        config.put("use_cache", null);
        config.put("limit", limit);
        config.put("bootstrap_iters", (long) bootstrapIters);
        config.put("gen_kwargs", gen);
        String[] s = seeds.split(",");
        String[] names = {"random_seed", "numpy_seed", "torch_seed", "fewshot_seed"};
        for (int i = 0; i < 4; i++) {
            String v = s[s.length == 1 ? 0 : i].strip();
            config.put(names[i], v.equals("None") ? null : (Object) Long.parseLong(v));
        }
        out.put("config", config);
        out.put("git_hash", null);
        out.put("date", startEpochSeconds);
        out.put("pretty_env_info", "Crucible on Java " + System.getProperty("java.version") + ", "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", "
                + Runtime.getRuntime().availableProcessors() + " cores");
        out.put("transformers_version", null);
        out.put("lm_eval_version", "0.4.13 (task format and metrics; run by Crucible)");
        out.put("upper_git_hash", null);
        var tok = model.tokenizer();
        out.put("tokenizer_pad_token", tokenPair(tok.specialTokens().pad(), tok.padTokenId()));
        out.put("tokenizer_eos_token", tokenPair(tok.specialTokens().eos(), tok.eosTokenId()));
        out.put("tokenizer_bos_token", tokenPair(tok.specialTokens().bos(), tok.bosTokenId()));
        out.put("eot_token_id", tok.eosTokenId() == null ? null : (Object) (long) tok.eosTokenId());
        out.put("max_length", (long) model.maxLength());
        out.put("model_source", "crucible");
        out.put("model_name", String.valueOf(modelArgs.get("pretrained")));
        out.put("model_name_sanitized", ResultsFiles.sanitizeModelName(String.valueOf(modelArgs.get("pretrained"))));
        out.put("system_instruction", systemInstruction);
        out.put("system_instruction_sha", systemInstruction == null ? null : Evaluator.sha256(systemInstruction));
        out.put("fewshot_as_multiturn", fewshotAsMultiturn);
        String template = chatTemplate ? model.chatTemplateSource() : null;
        out.put("chat_template", template);
        out.put("chat_template_sha", template == null ? null : Evaluator.sha256(template));
        out.put("total_evaluation_time_seconds", dev.crucible.model.template.PythonValues.str(seconds));
        return out;
    }

    private static List<Object> tokenPair(String token, Integer id) {
        List<Object> out = new ArrayList<>();
        out.add(token);
        out.add(String.valueOf(id));
        return out;
    }

    private static long parameters(EvalModel model) {
        try (Checkpoint c = Checkpoint.open(model.directory())) {
            long n = 0;
            for (String name : c.names()) {
                TensorInfo info = c.info(name);
                n += info.numel();
            }
            return n;
        }
    }
}
