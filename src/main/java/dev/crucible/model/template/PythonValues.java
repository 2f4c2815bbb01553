package dev.crucible.model.template;

/**
 * Python's {@code str()}, {@code repr()}, {@code ==} and {@code json.dumps} of plain values (None, bool, int, float, str, list, dict as Java null,
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

    /** Python's {@code a == b} (1 == 1.0, lists and dicts element by element). */
    public static boolean equal(Object a, Object b) {
        return Py.eq(Values.toTemplateValue(a), Values.toTemplateValue(b));
    }

    /** {@code json.dumps(value, ensure_ascii=False, indent=indent)}; indent null = one line. */
    public static String jsonDumps(Object value, Integer indent) {
        return Json.dumps(Values.toTemplateValue(value), false, indent == null ? null : (Object) (long) indent, null, false);
    }
}
