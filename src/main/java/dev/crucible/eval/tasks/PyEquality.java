package dev.crucible.eval.tasks;

import java.util.List;
import java.util.Map;

/** Python's {@code ==} on document values: numbers by value (1 == 1.0 == True), lists and dicts element-wise. */
final class PyEquality {
    private PyEquality() {
    }

    static boolean equal(Object a, Object b) {
        if (a == b) {
            return true;
        }
        if (a == null || b == null) {
            return false;
        }
        if (isNumber(a) && isNumber(b)) {
            return number(a) == number(b);
        }
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if (la.size() != lb.size()) {
                return false;
            }
            for (int i = 0; i < la.size(); i++) {
                if (!equal(la.get(i), lb.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) {
                return false;
            }
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                if (!mb.containsKey(e.getKey()) || !equal(e.getValue(), mb.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        return a.equals(b);
    }

    private static boolean isNumber(Object o) {
        return o instanceof Number || o instanceof Boolean;
    }

    private static double number(Object o) {
        return o instanceof Boolean b ? (b ? 1 : 0) : ((Number) o).doubleValue();
    }
}
