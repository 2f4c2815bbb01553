package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts caller-supplied Java values into template values (and refuses anything else). */
final class Values {
    private Values() {
    }

    /**
     * The value as a template value. Values that already are (String, Long, Double, Boolean, null, and lists
     * and maps of them) are used as they are, without a copy: templates cannot modify them.
     */
    static Object toTemplateValue(Object v) {
        return isTemplateValue(v, 0) ? v : convert(v);
    }

    private static boolean isTemplateValue(Object v, int depth) {
        if (depth > 64) {
            return false;
        }
        switch (v) {
            case null -> {
                return true;
            }
            case String s -> {
                return true;
            }
            case Long l -> {
                return true;
            }
            case Double d -> {
                return true;
            }
            case Boolean b -> {
                return true;
            }
            case List<?> l -> {
                for (int i = 0, n = l.size(); i < n; i++) {
                    if (!isTemplateValue(l.get(i), depth + 1)) {
                        return false;
                    }
                }
                return l instanceof java.util.RandomAccess;
            }
            case Map<?, ?> m -> {
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String) || !isTemplateValue(e.getValue(), depth + 1)) {
                        return false;
                    }
                }
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private static Object convert(Object v) {
        return switch (v) {
            case null -> null;
            case String s -> s;
            case Boolean b -> b;
            case Long l -> l;
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case Byte b -> (long) b;
            case Double d -> d;
            case Float f -> (double) f;
            case JsonNode n -> Json.fromJson(n);
            case PyTuple t -> t;
            case List<?> l -> {
                List<Object> out = new ArrayList<>(l.size());
                for (Object o : l) {
                    out.add(convert(o));
                }
                yield out;
            }
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    out.put(convert(e.getKey()), convert(e.getValue()));
                }
                yield out;
            }
            default -> throw new TemplateException("TypeError", "cannot pass a " + v.getClass().getName()
                    + " to a template; use maps, lists, strings, numbers, booleans or null");
        };
    }
}
