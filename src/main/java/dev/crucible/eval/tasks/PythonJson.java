package dev.crucible.eval.tasks;

import dev.crucible.model.template.PythonValues;

import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(value, ensure_ascii=False)}, with or without {@code indent}: the exact text lm-eval
 * writes (its results file, its samples lines, and the document text it hashes). Floats print as Python's repr
 * ({@code 1e-05}, {@code 0.1}), NaN and infinities as {@code NaN}/{@code Infinity}; tuples (a log-likelihood and its
 * is-greedy flag, a value and its weight) are lists.
 */
final class PythonJson {
    private PythonJson() {
    }

    /** @param indent 0 for one line with {@code ", "} and {@code ": "} separators */
    static String dumps(Object value, int indent) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int indent, int depth) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> string(sb, s);
            case Boolean b -> sb.append(b ? "true" : "false");
            case Double d -> sb.append(number(d));
            case Float f -> sb.append(number((double) f));
            case Number n -> sb.append(n.longValue());
            case LoglikelihoodResult r -> write(sb, List.of(r.logprob(), r.greedy()), indent, depth);
            case Aggregation.Weighted w -> write(sb, List.of(w.value(), w.weight()), indent, depth);
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    sb.append("{}");
                    return;
                }
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        sb.append(',');
                        if (indent == 0) {
                            sb.append(' ');
                        }
                    }
                    first = false;
                    newline(sb, indent, depth + 1);
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(": ");
                    write(sb, e.getValue(), indent, depth + 1);
                }
                newline(sb, indent, depth);
                sb.append('}');
            }
            case List<?> l -> {
                if (l.isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        sb.append(',');
                        if (indent == 0) {
                            sb.append(' ');
                        }
                    }
                    newline(sb, indent, depth + 1);
                    write(sb, l.get(i), indent, depth + 1);
                }
                newline(sb, indent, depth);
                sb.append(']');
            }
            default -> string(sb, v.toString());
        }
    }

    private static void newline(StringBuilder sb, int indent, int depth) {
        if (indent > 0) {
            sb.append('\n').append(" ".repeat(indent * depth));
        }
    }

    static String number(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        return PythonValues.repr(d);
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
