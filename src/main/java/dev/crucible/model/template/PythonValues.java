package dev.crucible.model.template;

/**
 * Python's {@code str()} and {@code repr()} of plain values (None, bool, int, float, str, list, dict as Java null,
 * Boolean, Long, Double, String, List, Map), exactly as the template engine prints them: what code outside the
 * engine needs when it must write a value as Python would (lm-eval's {@code str(target)}, float formatting).
 */
public final class PythonValues {
    private PythonValues() {
    }

    public static String str(Object value) {
        return Py.str(Values.toTemplateValue(value));
    }

    public static String repr(Object value) {
        return Py.repr(Values.toTemplateValue(value));
    }
}
