package dev.crucible.merge;

import dev.crucible.CrucibleException;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A parameter value as mergekit configs write it: a scalar, a gradient (numbers spread evenly over the layers of
 * a slice, interpolated piecewise-linearly), or conditional entries {@code {filter, value}} of which the first
 * whose filter is a substring of the tensor name wins (no filter, or {@code "*"}, matches everything).
 */
public final class ParameterSetting {
    private ParameterSetting() {
    }

    /** Checks the shape of a setting as read from YAML; {@code key} names it in errors. */
    public static void validate(Object setting, String key) {
        if (setting instanceof Number || setting instanceof Boolean || setting instanceof String) {
            return;
        }
        if (setting instanceof Map<?, ?> m) {
            validateConditional(m, key);
            return;
        }
        if (setting instanceof List<?> list && !list.isEmpty()) {
            boolean scalars = list.stream().allMatch(e -> e instanceof Number || e instanceof Boolean || e instanceof String);
            if (scalars) {
                return;
            }
            for (int i = 0; i < list.size(); i++) {
                if (!(list.get(i) instanceof Map<?, ?> m)) {
                    throw new CrucibleException(key + "[" + i + "]: a list must hold only numbers (a gradient) or only"
                            + " {filter, value} entries, found " + describe(list.get(i)));
                }
                validateConditional(m, key + "[" + i + "]");
            }
            return;
        }
        throw new CrucibleException(key + ": expected a number, a list of numbers (gradient) or {filter, value}"
                + " entries, found " + describe(setting));
    }

    private static void validateConditional(Map<?, ?> m, String key) {
        for (Object k : m.keySet()) {
            if (!Set.of("value", "filter").contains(String.valueOf(k))) {
                throw new CrucibleException(key + ": unknown key '" + k + "' (a conditional entry has 'filter' and 'value')");
            }
        }
        if (!m.containsKey("value")) {
            throw new CrucibleException(key + ": conditional entry needs a 'value'");
        }
        Object v = m.get("value");
        if (v instanceof Map<?, ?> || (v instanceof List<?> l && l.stream().anyMatch(e -> !(e instanceof Number)))) {
            throw new CrucibleException(key + ".value: expected a number or a list of numbers");
        }
        validate(v, key + ".value");
        Object f = m.get("filter");
        if (f != null && !(f instanceof String)) {
            throw new CrucibleException(key + ".filter: expected a string (a substring of tensor names)");
        }
    }

    /**
     * The value of {@code setting} for {@code tensorName} at relative layer position {@code t} in [0, 1], or null
     * when no conditional entry matches (the caller then looks at the next level). Numbers come back as Double.
     */
    public static Object evaluate(Object setting, String tensorName, double t) {
        if (setting instanceof Number n) {
            return n.doubleValue();
        }
        if (setting instanceof Boolean || setting instanceof String) {
            return setting;
        }
        if (setting instanceof Map<?, ?> m) {
            return matches(m, tensorName) ? evaluate(m.get("value"), tensorName, t) : null;
        }
        List<?> list = (List<?>) setting;
        if (list.stream().allMatch(e -> e instanceof Number)) {
            double scaled = t * (list.size() - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(list.size() - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * ((Number) list.get(i0)).doubleValue() + frac * ((Number) list.get(i1)).doubleValue();
        }
        if (list.stream().noneMatch(e -> e instanceof Map<?, ?>)) {
            Object v = list.get((int) (t * (list.size() - 1)));
            return v instanceof Number n ? n.doubleValue() : v;
        }
        for (Object e : list) {
            Map<?, ?> m = (Map<?, ?>) e;
            if (matches(m, tensorName)) {
                return evaluate(m.get("value"), tensorName, t);
            }
        }
        return null;
    }

    private static boolean matches(Map<?, ?> cond, String tensorName) {
        Object f = cond.get("filter");
        return f == null || "*".equals(f) || (tensorName != null && tensorName.contains((String) f));
    }

    static String describe(Object o) {
        return o == null ? "nothing" : o instanceof Map ? "a mapping" : o instanceof List ? "a list"
                : o.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + " '" + o + "'";
    }
}
