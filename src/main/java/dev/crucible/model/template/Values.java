package dev.crucible.model.template;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts caller-supplied Java values into template values (and refuses anything else). */
final class Values {
    private Values() {
    }

    static Object toTemplateValue(Object v) {
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
                    out.add(toTemplateValue(o));
                }
                yield out;
            }
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    out.put(toTemplateValue(e.getKey()), toTemplateValue(e.getValue()));
                }
                yield out;
            }
            default -> throw new TemplateException("TypeError", "cannot pass a " + v.getClass().getName()
                    + " to a template; use maps, lists, strings, numbers, booleans or null");
        };
    }
}
