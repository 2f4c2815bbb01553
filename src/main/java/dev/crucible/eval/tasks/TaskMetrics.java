package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.PythonRegex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A task's metrics ({@code metric_list}, else lm-eval's defaults for the output type): how each document is scored
 * (lm-eval's {@code process_results}), how the scores are aggregated and whether higher is better.
 */
final class TaskMetrics {
    record Metric(String name, Aggregation aggregation, boolean higherIsBetter, Map<String, Object> kwargs) {
    }

    private static final Map<String, List<String>> DEFAULTS = Map.of(
            "loglikelihood", List.of("perplexity", "acc"),
            "loglikelihood_rolling", List.of("word_perplexity", "byte_perplexity", "bits_per_byte"),
            "multiple_choice", List.of("acc", "acc_norm"),
            "generate_until", List.of("exact_match"));
    private static final Map<String, Set<String>> SUPPORTED = Map.of(
            "loglikelihood", Set.of("perplexity", "acc"),
            "loglikelihood_rolling", Set.of("word_perplexity", "byte_perplexity", "bits_per_byte"),
            "multiple_choice", Set.of("acc", "acc_norm", "acc_bytes", "acc_mutual_info", "exact_match"),
            "generate_until", Set.of("exact_match"));
    private static final Set<String> LOWER_IS_BETTER = Set.of("perplexity", "word_perplexity", "byte_perplexity",
            "bits_per_byte");
    private static final Set<String> EXACT_MATCH_KWARGS = Set.of("ignore_case", "ignore_punctuation",
            "ignore_numbers", "regexes_to_ignore");
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private final Map<String, Metric> metrics;
    private final boolean builtinResults;

    private TaskMetrics(Map<String, Metric> metrics, boolean builtinResults) {
        this.metrics = metrics;
        this.builtinResults = builtinResults;
    }

    static Aggregation defaultAggregation(String metric) {
        return switch (metric) {
            case "perplexity" -> Aggregation.PERPLEXITY;
            case "word_perplexity", "byte_perplexity" -> Aggregation.WEIGHTED_PERPLEXITY;
            case "bits_per_byte" -> Aggregation.BITS_PER_BYTE;
            default -> Aggregation.MEAN;
        };
    }

    static TaskMetrics of(TaskConfig c) {
        String type = c.outputType();
        boolean builtin = c.string("process_results") != null;
        Map<String, Metric> out = new LinkedHashMap<>();
        List<Object> list = c.list("metric_list");
        if (list == null) {
            for (String m : DEFAULTS.get(type)) {
                out.put(m, new Metric(m, defaultAggregation(m), !LOWER_IS_BETTER.contains(m), Map.of()));
            }
            return new TaskMetrics(out, builtin);
        }
        for (Object item : list) {
            if (!(item instanceof Map<?, ?> m) || !(m.get("metric") instanceof String name)) {
                throw new CrucibleException(c.where() + ": each metric_list entry needs 'metric' (a metric name)");
            }
            if (!builtin && !SUPPORTED.get(type).contains(name)) {
                throw new CrucibleException(c.where() + ": metric '" + name + "' is not supported for output_type " + type
                        + " (supported: " + String.join(", ", SUPPORTED.get(type).stream().sorted().toList()) + ")");
            }
            if (Boolean.TRUE.equals(m.get("hf_evaluate"))) {
                throw new CrucibleException(c.where() + ": metric " + name + ": hf_evaluate metrics need Python");
            }
            Map<String, Object> kwargs = new LinkedHashMap<>();
            m.forEach((k, v) -> {
                if (!List.of("metric", "aggregation", "higher_is_better", "hf_evaluate").contains(k)) {
                    kwargs.put(String.valueOf(k), v);
                }
            });
            for (String k : kwargs.keySet()) {
                if (!name.equals("exact_match") || !type.equals("generate_until") || !EXACT_MATCH_KWARGS.contains(k)) {
                    throw new CrucibleException(c.where() + ": metric " + name + " takes no option '" + k + "'"
                            + (name.equals("exact_match") ? " (exact_match takes " + String.join(", ",
                            EXACT_MATCH_KWARGS.stream().sorted().toList()) + ")" : ""));
                }
            }
            Aggregation agg = defaultAggregation(name);
            if (m.get("aggregation") != null) {
                agg = Aggregation.named(String.valueOf(m.get("aggregation")));
                if (agg == null) {
                    throw new CrucibleException(c.where() + ": aggregation '" + m.get("aggregation") + "' of metric "
                            + name + " is not one of " + Aggregation.names());
                }
            }
            boolean higher = m.get("higher_is_better") instanceof Boolean b ? b : !LOWER_IS_BETTER.contains(name);
            out.put(name, new Metric(name, agg, higher, kwargs));
        }
        return new TaskMetrics(out, builtin);
    }

    boolean has(String name) {
        return metrics.containsKey(name);
    }

    /** The aggregation of a metric key (mean for a key the task does not list, as lm-eval falls back). */
    Aggregation aggregation(String metric) {
        Metric m = metrics.get(metric);
        return m == null ? Aggregation.MEAN : m.aggregation();
    }

    Map<String, Boolean> higherIsBetter() {
        Map<String, Boolean> out = new LinkedHashMap<>();
        metrics.forEach((k, m) -> out.put(k, m.higherIsBetter()));
        return out;
    }

    /** One document's metric values from its filtered responses, keys in lm-eval's order. */
    Map<String, Object> score(EvalTask task, Map<String, Object> doc, List<Object> results) {
        TaskConfig c = task.config();
        if (builtinResults) {
            double[] lls = new double[results.size()];
            for (int i = 0; i < lls.length; i++) {
                lls[i] = ((LoglikelihoodResult) results.get(i)).logprob();
            }
            Object targets = doc.get("mc2_targets");
            if (!(targets instanceof Map<?, ?> t) || !(t.get("labels") instanceof List<?> labels)) {
                throw new CrucibleException(c.where() + ": process_results " + BuiltinHooks.TRUTHFULQA_MC2
                        + " needs the field mc2_targets.labels");
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("acc", BuiltinHooks.truthfulqaMc2(lls, labels));
            return out;
        }
        return switch (c.outputType()) {
            case "loglikelihood" -> {
                LoglikelihoodResult r = (LoglikelihoodResult) results.getFirst();
                Map<String, Object> out = new LinkedHashMap<>();
                if (has("perplexity")) {
                    out.put("perplexity", r.logprob());
                }
                if (has("acc")) {
                    out.put("acc", r.greedy() ? 1L : 0L);
                }
                yield out;
            }
            case "loglikelihood_rolling" -> {
                double ll = (Double) results.getFirst();
                String text = (String) task.docToTarget(doc, null);
                long words = PythonRegex.compile("\\s+").split(text, -1).length;
                long bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                Map<String, Object> out = new LinkedHashMap<>();
                if (has("word_perplexity")) {
                    out.put("word_perplexity", new Aggregation.Weighted(ll, words));
                }
                if (has("byte_perplexity")) {
                    out.put("byte_perplexity", new Aggregation.Weighted(ll, bytes));
                }
                if (has("bits_per_byte")) {
                    out.put("bits_per_byte", new Aggregation.Weighted(ll, bytes));
                }
                yield out;
            }
            case "multiple_choice" -> multipleChoice(task, doc, results);
            case "generate_until" -> generate(task, doc, results);
            default -> throw new IllegalStateException(c.outputType());
        };
    }

    private Map<String, Object> multipleChoice(EvalTask task, Map<String, Object> doc, List<Object> results) {
        List<Object> choices = task.docToChoice(doc, null);
        int n = choices.size();
        double[] lls = new double[results.size()];
        boolean[] greedy = new boolean[results.size()];
        for (int i = 0; i < lls.length; i++) {
            LoglikelihoodResult r = (LoglikelihoodResult) results.get(i);
            lls[i] = r.logprob();
            greedy[i] = r.greedy();
        }
        double[] unconditional = null;
        if (2 * n == lls.length && has("acc_mutual_info")) {
            unconditional = java.util.Arrays.copyOfRange(lls, n, 2 * n);
            lls = java.util.Arrays.copyOf(lls, n);
        }
        double[] norm = new double[lls.length];
        double[] perByte = new double[lls.length];
        for (int i = 0; i < lls.length; i++) {
            String choice = String.valueOf(choices.get(i));
            norm[i] = lls[i] / (double) PyText.len(choice);
            perByte[i] = lls[i] / (double) choice.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        int pred = argmax(lls);
        int predNorm = argmax(norm);
        int predByte = argmax(perByte);
        Object gold = task.multipleInput() > 0 ? task.docToText(doc, null) : task.docToTarget(doc, null);
        List<Long> golds = null;
        long single = -100;
        if (gold instanceof List<?> list) {
            golds = new ArrayList<>();
            for (Object g : list) {
                long i = ((Number) g).longValue();
                golds.add(i < n ? i : -100);
            }
        } else if (gold instanceof Long g) {
            single = g < n ? g : -100;
        } else if (gold instanceof String s) {
            single = choices.indexOf(s);
            single = single < 0 ? -100 : single;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        boolean multi = task.multipleTarget() > 0;
        double acc;
        double accNorm;
        double accBytes;
        long exact;
        if (multi && golds != null) {
            acc = golds.contains((long) pred) ? 1.0 : 0.0;
            accNorm = golds.contains((long) predNorm) ? 1.0 : 0.0;
            accBytes = golds.contains((long) predByte) ? 1.0 : 0.0;
            exact = 0;
            for (long g : golds) {
                if (g != -100 && greedy[(int) Math.floorMod(g, greedy.length)]) {
                    exact = 1;
                }
            }
        } else {
            acc = pred == single ? 1.0 : 0.0;
            accNorm = predNorm == single ? 1.0 : 0.0;
            accBytes = predByte == single ? 1.0 : 0.0;
            exact = single != -100 && greedy[(int) Math.floorMod(single, greedy.length)] ? 1 : 0;
        }
        if (has("acc")) {
            out.put("acc", acc);
        }
        if (has("acc_norm")) {
            out.put("acc_norm", accNorm);
        }
        if (has("acc_bytes")) {
            out.put("acc_bytes", accBytes);
        }
        if (has("exact_match")) {
            out.put("exact_match", exact);
        }
        if (has("acc_mutual_info")) {
            if (unconditional == null) {
                throw new IllegalStateException("acc_mutual_info without unconditional requests");
            }
            double[] mi = new double[lls.length];
            for (int i = 0; i < mi.length; i++) {
                mi[i] = lls[i] - unconditional[i];
            }
            out.put("acc_mutual_info", argmax(mi) == single ? 1.0 : 0.0);
        }
        return out;
    }

    /** numpy's argmax: the first maximum (the first NaN if there is one). */
    static int argmax(double[] a) {
        int best = 0;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i])) {
                return i;
            }
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    private Map<String, Object> generate(EvalTask task, Map<String, Object> doc, List<Object> results) {
        TaskConfig c = task.config();
        Object gold = task.docToTarget(doc, null);
        Object result = results.getFirst();
        if (c.get("doc_to_choice") != null) {
            gold = task.docToChoice(doc, null).get(Math.toIntExact(((Number) gold).longValue()));
        } else if (task.multipleTarget() > 0) {
            gold = gold instanceof List<?> l ? new ArrayList<>(l) : List.of(gold);
        } else if (!(gold instanceof String) && result instanceof String) {
            gold = dev.crucible.model.template.PythonValues.str(gold);
        }
        if (!(result instanceof String prediction)) {
            throw new CrucibleException(c.where() + ": exact_match needs text responses after the filters, got " + result);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        Metric m = metrics.get("exact_match");
        if (m == null) {
            return out;
        }
        if (task.multipleTarget() > 0) {
            double hits = 0;
            List<?> golds = (List<?>) gold;
            for (Object g : golds) {
                hits += exactMatch(prediction, dev.crucible.model.template.PythonValues.str(g), m.kwargs()) ? 1 : 0;
            }
            out.put("exact_match", hits / golds.size() > 0.0 ? 1.0 : 0.0);
        } else {
            out.put("exact_match", exactMatch(prediction, (String) gold, m.kwargs()) ? 1.0 : 0.0);
        }
        return out;
    }

    /** lm-eval's exact_match_hf_evaluate for one pair. */
    static boolean exactMatch(String prediction, String reference, Map<String, Object> kwargs) {
        String p = prediction;
        String r = reference;
        if (kwargs.get("regexes_to_ignore") instanceof List<?> regexes) {
            for (Object re : regexes) {
                p = PythonRegex.sub(String.valueOf(re), "", p, 0);
                r = PythonRegex.sub(String.valueOf(re), "", r, 0);
            }
        }
        if (Boolean.TRUE.equals(kwargs.get("ignore_case"))) {
            p = p.toLowerCase(Locale.ROOT);
            r = r.toLowerCase(Locale.ROOT);
        }
        if (Boolean.TRUE.equals(kwargs.get("ignore_punctuation"))) {
            p = removeChars(p, PUNCTUATION);
            r = removeChars(r, PUNCTUATION);
        }
        if (Boolean.TRUE.equals(kwargs.get("ignore_numbers"))) {
            p = removeChars(p, "0123456789");
            r = removeChars(r, "0123456789");
        }
        return p.equals(r);
    }

    private static String removeChars(String s, String chars) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) < 0) {
                sb.append(s.charAt(i));
            }
        }
        return sb.toString();
    }
}
