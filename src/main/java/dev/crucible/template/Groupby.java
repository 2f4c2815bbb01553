package dev.crucible.template;

import java.util.ArrayList;
import java.util.List;

/** The {@code groupby} filter's (grouper, list) named tuples. */
final class Groupby {
    private Groupby() {
    }

    static final class Group extends PyTuple {
        Group(Object grouper, List<Object> items) {
            super(grouper, items);
        }

        Object attr(String name) {
            return switch (name) {
                case "grouper" -> get(0);
                case "list" -> get(1);
                default -> Undefined.member(this, name);
            };
        }
    }

    static List<Object> group(List<Object> sorted, java.util.function.Function<Object, Object> key,
                              java.util.function.Function<Object, Object> outputKey) {
        List<Object> out = new ArrayList<>();
        Object currentKey = null;
        List<Object> current = null;
        for (Object item : sorted) {
            Object k = key.apply(item);
            if (current == null || !Py.eq(k, currentKey)) {
                if (current != null) {
                    out.add(new Group(outputKey.apply(current.getFirst()), current));
                }
                current = new ArrayList<>();
                currentKey = k;
            }
            current.add(item);
        }
        if (current != null) {
            out.add(new Group(outputKey.apply(current.getFirst()), current));
        }
        return out;
    }
}
