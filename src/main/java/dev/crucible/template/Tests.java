package dev.crucible.template;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Jinja2's built-in tests ({@code x is defined}, {@code x is string}, ...). */
final class Tests {
    private Tests() {
    }

    @FunctionalInterface
    interface Test {
        boolean test(Interp in, Object value, List<Object> args, Map<String, Object> kwargs);
    }

    private static final Map<String, Test> TESTS = new HashMap<>();

    static Test get(String name) {
        return TESTS.get(name);
    }

    private interface Unary {
        boolean test(Object v);
    }

    private interface BinaryTest {
        boolean test(Object v, Object other);
    }

    private static void reg1(Unary t, String... names) {
        for (String n : names) {
            TESTS.put(n, (in, v, a, k) -> {
                Bind.bind(n, a, k, new String[0]);
                return t.test(v);
            });
        }
    }

    private static void reg2(BinaryTest t, String param, String... names) {
        for (String n : names) {
            TESTS.put(n, (in, v, a, k) -> t.test(v, Bind.bind(n, a, k, new String[] {param}, Bind.REQUIRED)[0]));
        }
    }

    static {
        reg1(v -> !(v instanceof Undefined), "defined");
        reg1(v -> v instanceof Undefined, "undefined");
        reg1(v -> v == null, "none");
        reg1(v -> v instanceof Boolean, "boolean");
        reg1(v -> Boolean.TRUE.equals(v), "true");
        reg1(v -> Boolean.FALSE.equals(v), "false");
        reg1(Markup::isStr, "string");
        reg1(v -> v instanceof Map, "mapping");
        reg1(Py::isNumber, "number");
        reg1(v -> v instanceof Long, "integer");
        reg1(v -> v instanceof Double, "float");
        reg1(v -> Markup.isStr(v) || v instanceof Collection || v instanceof Map || v instanceof Undefined, "sequence");
        reg1(v -> Markup.isStr(v) || v instanceof Collection || v instanceof Map || v instanceof PyGenerator
                || v instanceof Undefined, "iterable");
        reg1(v -> v instanceof PyCallable || v instanceof Undefined, "callable"); // Undefined defines __call__
        reg1(v -> v instanceof Markup, "escaped");
        reg1(v -> PyStr.isLowerStr(Py.str(v)), "lower");
        reg1(v -> PyStr.isUpperStr(Py.str(v)), "upper");
        reg1(v -> isOdd(v), "odd");
        reg1(v -> !isOdd(v), "even");
        reg2((v, n) -> {
            Object r = Py.mod(v, n);
            return Py.eq(r, 0L);
        }, "num", "divisibleby");
        reg2(Py::eq, "other", "eq", "equalto", "==");
        reg2((v, o) -> !Py.eq(v, o), "other", "ne", "!=");
        reg2((v, o) -> Py.compare(v, o, "<") < 0, "other", "lt", "lessthan", "<");
        reg2((v, o) -> Py.compare(v, o, "<=") <= 0, "other", "le", "<=");
        reg2((v, o) -> Py.compare(v, o, ">") > 0, "other", "gt", "greaterthan", ">");
        reg2((v, o) -> Py.compare(v, o, ">=") >= 0, "other", "ge", ">=");
        reg2((v, o) -> Py.contains(o, v), "seq", "in");
        reg2(Tests::sameas, "other", "sameas");
        reg1(v -> v instanceof String s && Filters.get(s) != null, "filter");
        reg1(v -> v instanceof String s && get(s) != null, "test");
    }

    private static boolean isOdd(Object v) {
        return Py.eq(Py.mod(v, 2L), 1L);
    }

    /** Python's {@code is}: identity for objects; singletons and small values compare by value. */
    private static boolean sameas(Object v, Object o) {
        if (v == null || o == null || v instanceof Boolean || o instanceof Boolean) {
            return v == o || (v != null && v.equals(o));
        }
        if (v instanceof Long || v instanceof String) {
            return v.equals(o);
        }
        return v == o;
    }
}
