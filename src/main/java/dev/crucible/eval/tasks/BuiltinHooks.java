package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.PythonRegex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What Crucible offers in place of lm-eval's Python hooks: named built-ins for {@code process_docs} and
 * {@code process_results} (the leaderboard tasks need two), and, for a {@code !function} found in a task file, the
 * advice naming the built-in or the Jinja that does the same. Everything else lm-eval does in Python for the
 * leaderboard tasks is plain Jinja (see the task files under {@code dev/crucible/eval/tasks/leaderboard}).
 */
final class BuiltinHooks {
    /** {@code process_docs: hellaswag}: lm-eval's hellaswag/utils.py process_docs. */
    static final String HELLASWAG = "hellaswag";
    /** {@code process_results: truthfulqa_mc2}: lm-eval's truthfulqa/utils.py process_results_mc2. */
    static final String TRUTHFULQA_MC2 = "truthfulqa_mc2";

    private BuiltinHooks() {
    }

    static void checkProcessDocs(String where, String name) {
        if (name != null && !name.equals(HELLASWAG)) {
            throw new CrucibleException(where + ": process_docs '" + name + "' is not a Crucible built-in (built-ins: "
                    + HELLASWAG + ")");
        }
    }

    static void checkProcessResults(String where, String name, String outputType) {
        if (name == null) {
            return;
        }
        if (!name.equals(TRUTHFULQA_MC2)) {
            throw new CrucibleException(where + ": process_results '" + name + "' is not a Crucible built-in "
                    + "(built-ins: " + TRUTHFULQA_MC2 + ")");
        }
        if (!outputType.equals("multiple_choice")) {
            throw new CrucibleException(where + ": process_results " + TRUTHFULQA_MC2 + " needs output_type multiple_choice");
        }
    }

    /** The sentence after "is a Python hook": what to write instead. */
    static String advice(String key, String function, Map<String, Object> raw) {
        String fn = function.substring(function.lastIndexOf('.') + 1);
        String dataset = String.valueOf(raw.get("dataset_path"));
        if (key.equals("process_docs") && dataset.toLowerCase().contains("hellaswag")) {
            return "The built-in equivalent: process_docs: " + HELLASWAG;
        }
        if (key.equals("process_results") && fn.equals("process_results_mc2")) {
            return "The built-in equivalent: process_results: " + TRUTHFULQA_MC2;
        }
        if (function.startsWith("preprocess_winogrande.")) {
            String jinja = switch (fn) {
                case "doc_to_text" -> "\"{{ {'1': 0, '2': 1}[answer] }}\"";
                case "doc_to_target" -> "\"{{ sentence[sentence.index('_') + 1:].strip() }}\"";
                case "doc_to_choice" -> "\"{{ [sentence[:sentence.index('_')] + option1, "
                        + "sentence[:sentence.index('_')] + option2] }}\"";
                default -> null;
            };
            if (jinja != null) {
                return "The equivalent in Jinja: " + key + ": " + jinja;
            }
        }
        return "No built-in does what it does; write " + key + " as a Jinja template over the document's fields "
                + "(built-ins: process_docs: " + HELLASWAG + ", process_results: " + TRUTHFULQA_MC2 + ")";
    }

    /** Applies a {@code process_docs} built-in to a split, as {@code dataset.map(fn)}: new columns come last. */
    static List<Map<String, Object>> processDocs(String name, List<Map<String, Object>> docs, String where) {
        if (!HELLASWAG.equals(name)) {
            throw new IllegalStateException(name);
        }
        List<Map<String, Object>> out = new ArrayList<>(docs.size());
        for (int i = 0; i < docs.size(); i++) {
            Map<String, Object> doc = docs.get(i);
            try {
                String ctx = text(doc, "ctx_a") + " " + PyText.capitalize(text(doc, "ctx_b"));
                List<Object> choices = new ArrayList<>();
                for (Object ending : (List<?>) doc.get("endings")) {
                    choices.add(hellaswagPreprocess((String) ending));
                }
                Map<String, Object> processed = new LinkedHashMap<>(doc);
                processed.put("query", hellaswagPreprocess(text(doc, "activity_label") + ": " + ctx));
                processed.put("choices", choices);
                Object label = doc.get("label");
                processed.put("gold", label instanceof Long l ? l : Long.parseLong(PyText.strip(String.valueOf(label))));
                out.add(processed);
            } catch (RuntimeException e) {
                throw new CrucibleException(where + ": process_docs " + name + " on document " + i + ": needs the fields "
                        + "activity_label, ctx_a, ctx_b (strings), endings (list of strings) and label (" + e + ")");
            }
        }
        return out;
    }

    private static String text(Map<String, Object> doc, String field) {
        Object v = doc.get(field);
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException(field + " is " + v);
        }
        return s;
    }

    /** hellaswag/utils.py {@code preprocess}: strip, "[title]" to a full stop, brackets dropped, double spaces. */
    static String hellaswagPreprocess(String text) {
        String t = PyText.strip(text);
        t = t.replace(" [title]", ". ");
        t = PythonRegex.sub("\\[.*?\\]", "", t, 0);
        return t.replace("  ", " ");
    }

    /**
     * truthfulqa/utils.py {@code process_results_mc2}: the probability mass of the true answers among all
     * (exp of each log-likelihood, normalised), in double as numpy computes it.
     */
    static double truthfulqaMc2(double[] lls, List<?> labels) {
        double[] probs = new double[lls.length];
        for (int i = 0; i < lls.length; i++) {
            probs[i] = Math.exp(lls[i]);
        }
        double sum = NumpySum.pairwise(probs);
        double[] trueMass = new double[lls.length];
        int n = 0;
        for (int i = 0; i < lls.length; i++) {
            if (i < labels.size() && labels.get(i) instanceof Number num && num.longValue() == 1) {
                trueMass[n++] = probs[i] / sum;
            }
        }
        return NumpySum.pairwise(java.util.Arrays.copyOf(trueMass, n));
    }
}
