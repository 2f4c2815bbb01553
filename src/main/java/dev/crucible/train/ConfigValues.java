package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.YamlFile;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed, range-checked access to the values of a YAML config mapping. Every error names the file, the key and its line,
 * and says what was expected. Numbers are checked as written, before any conversion, so {@code 99999999999} for an int setting
 * is an error, never a silently wrapped value; YAML 1.2 reads {@code 2e-4} as a string, so numeric strings count as
 * numbers.
 */
record ConfigValues(YamlFile yaml, Map<?, ?> map) {

    /** An error about {@code key}, with the file and the key's line in front. */
    CrucibleException error(String key, String message) {
        return yaml.error(key, message);
    }

    /** Whether the key is present with a value (an empty {@code key:} in YAML is null, as Axolotl reads it: unset). */
    boolean has(String key) {
        return map.get(key) != null;
    }

    String string(String key, String fallback) {
        Object v = map.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Map<?, ?> || v instanceof List<?>) {
            throw error(key, "must be a string", v);
        }
        return String.valueOf(v);
    }

    boolean bool(String key, boolean fallback) {
        Object v = map.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw error(key, "must be true or false", v);
    }

    /** An integer in [{@code min}, {@code max}]; a float with an integral value (1e3) counts. */
    long integer(String key, long fallback, long min, long max) {
        Object v = map.get(key);
        if (v == null) {
            return fallback;
        }
        BigDecimal d = decimal(key, v, "an integer");
        BigInteger i;
        try {
            i = d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw error(key, "must be an integer from " + min + " to " + max, v);
        }
        if (i.compareTo(BigInteger.valueOf(min)) < 0 || i.compareTo(BigInteger.valueOf(max)) > 0) {
            throw error(key, "must be an integer from " + min + " to " + max, v);
        }
        return i.longValueExact();
    }

    int intValue(String key, int fallback, int min, int max) {
        return (int) integer(key, fallback, min, max);
    }

    /** A finite number in the range; {@code lowOpen}/{@code highOpen} exclude the bound itself. */
    double number(String key, double fallback, double low, boolean lowOpen, double high, boolean highOpen, String hint) {
        Object v = map.get(key);
        if (v == null) {
            return fallback;
        }
        double d = decimal(key, v, "a number").doubleValue();
        boolean ok = Double.isFinite(d) && (lowOpen ? d > low : d >= low) && (highOpen ? d < high : d <= high);
        if (!ok) {
            String range = (lowOpen ? "greater than " : "at least ") + fmt(low)
                    + (Double.isInfinite(high) ? "" : (highOpen ? " and below " : " and at most ") + fmt(high));
            throw error(key, "must be a number " + range, v, hint == null ? "" : " (" + hint + ")");
        }
        return d;
    }

    List<String> strings(String key) {
        Object v = map.get(key);
        if (v == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (Object o : v instanceof List<?> l ? l : List.of(v)) {
            if (o == null || o instanceof Map<?, ?> || o instanceof List<?>) {
                throw error(key, "must be a list of names", v);
            }
            out.add(String.valueOf(o));
        }
        return out;
    }

    /** A mapping of names to strings ({@code special_tokens}). */
    Map<String, String> stringMap(String key) {
        Object v = map.get(key);
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw error(key, "must be a mapping of names to strings", v);
        }
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (e.getValue() instanceof Map<?, ?> || e.getValue() instanceof List<?>) {
                throw error(key + "." + e.getKey(), "must be a string", e.getValue());
            }
            if (e.getValue() != null) {
                out.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
            }
        }
        return out;
    }

    CrucibleException error(String key, String expected, Object got) {
        return error(key, expected, got, "");
    }

    private CrucibleException error(String key, String expected, Object got, String hint) {
        return yaml.error(key, "'" + key + "' " + expected + ", got " + got + hint);
    }

    private BigDecimal decimal(String key, Object v, String what) {
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return BigDecimal.valueOf(((Number) v).longValue());
        }
        if (v instanceof BigInteger b) {
            return new BigDecimal(b);
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw error(key, "must be " + what + " (finite)", v);
            }
            return BigDecimal.valueOf(d);
        }
        if (v instanceof String s) {
            try {
                return new BigDecimal(s.strip());
            } catch (NumberFormatException e) {
                throw error(key, "must be " + what, v);
            }
        }
        throw error(key, "must be " + what, v);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
