package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a run's files where {@code lm_eval --output_path} writes them: under a directory,
 * {@code MODEL_NAME_SANITIZED/results_DATE.json} and, with {@code --log_samples}, one
 * {@code samples_TASK_DATE.jsonl} per task next to it; for a path ending in {@code .json}, {@code STEM_DATE.json}
 * with the samples beside it. Each file is written to a temporary sibling and renamed into place.
 */
public final class ResultsFiles {
    private ResultsFiles() {
    }

    /** lm-eval's sanitize_model_name: runs of {@code "<>:/|\?*[]} become {@code __}. */
    public static String sanitizeModelName(String name) {
        return name.replaceAll("[\"<>:/|\\\\?*\\[\\]]+", "__");
    }

    /** The results file written; {@code samples} may be null (no --log-samples). */
    public static Path write(Path outputPath, String modelName, Map<String, Object> results,
                             Map<String, List<Map<String, Object>>> samples) {
        LocalDateTime now = LocalDateTime.now();
        String date = now.format(java.time.format.DateTimeFormatter.ofPattern(now.getNano() / 1000 == 0
                ? "yyyy-MM-dd'T'HH-mm-ss" : "yyyy-MM-dd'T'HH-mm-ss.SSSSSS")); // Python's isoformat(), ':' -> '-'
        Map<String, Object> out = new LinkedHashMap<>(results);
        Map<String, Object> hashes = new LinkedHashMap<>();
        if (samples != null) {
            for (Map.Entry<String, List<Map<String, Object>>> e : samples.entrySet()) {
                StringBuilder all = new StringBuilder();
                for (Map<String, Object> s : e.getValue()) {
                    all.append(s.get("doc_hash")).append(s.get("prompt_hash")).append(s.get("target_hash"));
                }
                hashes.put(e.getKey(), Evaluator.sha256(all.toString()));
            }
        }
        out.put("task_hashes", hashes);
        Path dir;
        Path resultsFile;
        String name = outputPath.getFileName() == null ? "" : outputPath.getFileName().toString();
        if (name.endsWith(".json")) {
            dir = outputPath.toAbsolutePath().getParent();
            resultsFile = dir.resolve(name.substring(0, name.length() - 5) + "_" + date + ".json");
        } else {
            dir = outputPath.resolve(sanitizeModelName(modelName));
            resultsFile = dir.resolve("results_" + date + ".json");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot create the output directory: " + e.getMessage(), e);
        }
        publish(resultsFile, PythonJson.dumps(out, 2));
        if (samples != null) {
            for (Map.Entry<String, List<Map<String, Object>>> e : samples.entrySet()) {
                StringBuilder lines = new StringBuilder();
                for (Map<String, Object> s : e.getValue()) {
                    lines.append(PythonJson.dumps(serializable(s), 0)).append('\n');
                }
                publish(dir.resolve("samples_" + e.getKey() + "_" + date + ".jsonl"), lines.toString());
            }
        }
        return resultsFile;
    }

    /** What lm-eval's save_results_samples writes: arguments as gen_args_i/arg_j, responses as strings. */
    static Map<String, Object> serializable(Map<String, Object> sample) {
        Map<String, Object> s = new LinkedHashMap<>(sample);
        Map<String, Object> args = new LinkedHashMap<>();
        List<?> list = (List<?>) sample.get("arguments");
        for (int i = 0; i < list.size(); i++) {
            Map<String, Object> one = new LinkedHashMap<>();
            List<?> arg = (List<?>) list.get(i);
            for (int j = 0; j < arg.size(); j++) {
                one.put("arg_" + j, arg.get(j));
            }
            args.put("gen_args_" + i, one);
        }
        s.put("arguments", args);
        s.put("resps", sanitize(sample.get("resps")));
        s.put("filtered_resps", sanitize(sample.get("filtered_resps")));
        s.put("target", dev.crucible.model.template.PythonValues.str(sample.get("target")));
        return s;
    }

    /** lm-eval's sanitize_list: nested lists and tuples kept, every leaf turned into Python's str of it. */
    static Object sanitize(Object o) {
        if (o instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            l.forEach(x -> out.add(sanitize(x)));
            return out;
        }
        if (o instanceof LoglikelihoodResult r) {
            return List.of(dev.crucible.model.template.PythonValues.str(r.logprob()), r.greedy() ? "True" : "False");
        }
        return dev.crucible.model.template.PythonValues.str(o);
    }

    private static void publish(Path file, String text) {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file);
            }
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
