package dev.crucible.merge;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A parameter value as mergekit configs write it: a scalar, a gradient (numbers spread evenly over the layers of
 * a slice, interpolated piecewise-linearly), or conditional entries {@code {filter, value}} of which the first
 * whose filter is a substring of the tensor name wins (no filter, or {@code "*"}, matches everything).
 */
public final class ParameterSetting {
    private ParameterSetting() {
    }

    /**
     * Checks a setting as read from YAML and returns it as mergekit's pydantic schema reads it: numbers stay numbers
     * (booleans too: methods read them as flags), a string that spells a number becomes that number (pydantic's lax
     * float) and any other string is an error; a conditional entry's unknown keys are ignored with a warning.
     * {@code key} names the setting in errors.
     */
    public static Object normalize(Object setting, String key, List<String> warnings) {
        if (setting instanceof Number || setting instanceof Boolean) {
            return setting;
        }
        if (setting instanceof String s) {
            return number(s, key);
        }
        if (setting instanceof Map<?, ?> m) {
            return conditional(m, key, warnings);
        }
        if (setting instanceof List<?> list) {
            List<Object> out = new ArrayList<>();
            boolean scalars = list.stream().noneMatch(e -> e instanceof Map<?, ?> || e instanceof List<?>);
            for (int i = 0; i < list.size(); i++) {
                Object e = list.get(i);
                if (scalars) { // pydantic reads a list of scalars as floats: booleans too, so gradients interpolate
                    Object v = normalize(e, key + "[" + i + "]", warnings);
                    out.add(v instanceof Boolean b ? (b ? 1.0 : 0.0) : v);
                } else if (e instanceof Map<?, ?> m) {
                    out.add(conditional(m, key + "[" + i + "]", warnings));
                } else {
                    throw new CrucibleException(key + "[" + i + "]: a list must hold only numbers (a gradient) or only"
                            + " {filter, value} entries, found " + describe(e));
                }
            }
            return List.copyOf(out);
        }
        throw new CrucibleException(key + ": expected a number, a list of numbers (gradient) or {filter, value}"
                + " entries, found " + describe(setting));
    }

    private static Map<String, Object> conditional(Map<?, ?> m, String key, List<String> warnings) {
        for (Object k : m.keySet()) {
            if (!Set.of("value", "filter").contains(String.valueOf(k))) {
                warnings.add(key + ": unknown key '" + k + "' ignored, as mergekit ignores it (a conditional entry has"
                        + " 'filter' and 'value')");
            }
        }
        if (m.get("value") == null) {
            throw new CrucibleException(key + ": conditional entry needs a 'value'");
        }
        Object v = m.get("value");
        if (v instanceof Map<?, ?> || (v instanceof List<?> l && l.stream().anyMatch(e -> e instanceof Map<?, ?>
                || e instanceof List<?>))) {
            throw new CrucibleException(key + ".value: expected a number or a list of numbers");
        }
        Object f = m.get("filter");
        if (f != null && !(f instanceof String)) {
            throw new CrucibleException(key + ".filter: expected a string (a substring of tensor names)");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("value", normalize(v, key + ".value", warnings));
        if (f != null) {
            out.put("filter", f);
        }
        return out;
    }

    private static Double number(String s, String key) {
        if (!isNumber(s)) {
            throw new CrucibleException(key + ": expected a number, found string '" + s + "'");
        }
        return Double.parseDouble(s.trim());
    }

    /** Whether {@code s} spells a finite or infinite decimal number (what pydantic's lax float accepts). */
    static boolean isNumber(String s) {
        return NUMBER.matcher(s.trim()).matches();
    }

    private static final Pattern NUMBER = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

    /**
     * The value of {@code setting} for {@code tensorName} at relative layer position {@code t} in [0, 1], or null
     * when no conditional entry matches (the caller then looks at the next level). Numbers come back as Double.
     */
    public static Object evaluate(Object setting, String tensorName, double t) {
        if (setting instanceof Number n) {
            return n.doubleValue();
        }
        if (setting instanceof Boolean) {
            return setting;
        }
        if (setting instanceof Map<?, ?> m) {
            return matches(m, tensorName) ? evaluate(m.get("value"), tensorName, t) : null;
        }
        List<?> list = (List<?>) setting;
        if (list.isEmpty()) {
            return null; // mergekit: no entry matches, the next level decides
        }
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
