package dev.crucible.template;

import java.math.BigDecimal;

/** Python's {@code int()} / {@code float()} conversions as Jinja's int and float filters use them. */
final class Conversions {
    private Conversions() {
    }

    /** Jinja's do_int: int(value, base) for strings, then int(float(value)); null when both fail. */
    static Object toInt(Object v, int base) {
        if (v instanceof String s) {
            Long r = parseInt(s, base);
            if (r != null) {
                return r;
            }
        } else if (Py.isInt(v)) {
            return Py.asLong(v);
        } else if (v instanceof Double d) {
            return truncate(d);
        }
        Double f = toFloat(v);
        return f == null ? null : truncate(f);
    }

    private static Object truncate(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return null;
        }
        if (Math.abs(d) < 9.2e18) {
            return (long) d;
        }
        // Python would give an arbitrary-precision int; templates only ever hold 64-bit integers here
        throw new TemplateException("OverflowError", "int(" + Py.floatRepr(d) + ") does not fit in 64 bits");
    }

    private static Long parseInt(String s, int base) {
        String t = PyStr.strip(s, null).replace("_", "");
        boolean neg = false;
        if (t.startsWith("-") || t.startsWith("+")) {
            neg = t.startsWith("-");
            t = t.substring(1);
        }
        String lower = t.toLowerCase();
        if ((base == 16 && lower.startsWith("0x")) || (base == 8 && lower.startsWith("0o"))
                || (base == 2 && lower.startsWith("0b"))) {
            t = t.substring(2);
        }
        if (t.isEmpty()) {
            return null;
        }
        try {
            long r = Long.parseLong(t, base);
            return neg ? -r : r;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Python's float(value); null where Python raises. */
    static Double toFloat(Object v) {
        if (Py.isNumber(v)) {
            return Py.asDouble(v);
        }
        if (!(v instanceof String s)) {
            return null;
        }
        String t = PyStr.strip(s, null).toLowerCase();
        switch (t) {
            case "inf", "+inf", "infinity", "+infinity" -> {
                return Double.POSITIVE_INFINITY;
            }
            case "-inf", "-infinity" -> {
                return Double.NEGATIVE_INFINITY;
            }
            case "nan", "+nan", "-nan" -> {
                return Double.NaN;
            }
            default -> { }
        }
        if (t.isEmpty() || !t.matches("[+-]?(\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)(e[+-]?\\d+)?")) {
            return null;
        }
        try {
            return new BigDecimal(t.replace("_", "")).doubleValue();
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
