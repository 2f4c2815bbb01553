package dev.crucible.eval.tasks;

import dev.crucible.model.template.PythonValues;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(value, ensure_ascii=False)}, with or without {@code indent}: the exact text lm-eval
 * writes (its results file, its samples lines, and the document text it hashes), through the template engine's
 * json.dumps. Tuples (a log-likelihood and its is-greedy flag, a value and its weight) are written as lists.
 */
final class PythonJson {
    private PythonJson() {
    }

    /** @param indent 0 for one line with {@code ", "} and {@code ": "} separators */
    static String dumps(Object value, int indent) {
        return PythonValues.jsonDumps(plain(value), indent == 0 ? null : indent);
    }

    private static Object plain(Object v) {
        return switch (v) {
            case LoglikelihoodResult r -> List.of(r.logprob(), r.greedy());
            case Aggregation.Weighted w -> List.of(w.value(), w.weight());
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>(l.size());
                l.forEach(x -> out.add(plain(x)));
                yield out;
            }
            case null, default -> v;
        };
    }

    /** A float as Python's json writes it: its repr, or NaN / Infinity / -Infinity. */
    static String number(double d) {
        return PythonValues.jsonDumps(d, null);
    }
}
