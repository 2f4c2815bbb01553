package dev.crucible.model.template;

import java.util.HashMap;
import java.util.Map;

/** A variable scope: the template, one loop iteration, a macro call, a with block. */
final class Frame {
    final Frame parent;
    private final Map<String, Object> vars = new HashMap<>(8);

    Frame(Frame parent) {
        this.parent = parent;
    }

    /** The value of {@code name}, or {@link Undefined} when no enclosing scope defines it. */
    Object lookup(String name) {
        for (Frame f = this; f != null; f = f.parent) {
            Object v = f.vars.get(name);
            if (v != null || f.vars.containsKey(name)) {
                return v;
            }
        }
        return Undefined.variable(name);
    }

    void set(String name, Object value) {
        vars.put(name, value);
    }
}
