package dev.crucible.template;

import java.util.Arrays;

/**
 * A variable scope: the template, one loop iteration, a macro call, a with block. Scopes hold few names,
 * so a small array with linear search is cheaper to create and probe than a hash map.
 */
final class Frame {
    final Frame parent;
    private String[] names;
    private Object[] values;
    private int size;

    Frame(Frame parent) {
        this.parent = parent;
    }

    /** The value of {@code name}, or {@link Undefined} when no enclosing scope defines it. */
    Object lookup(String name) {
        for (Frame f = this; f != null; f = f.parent) {
            String[] ns = f.names;
            for (int i = f.size - 1; i >= 0; i--) {
                if (ns[i].equals(name)) {
                    return f.values[i];
                }
            }
        }
        return Undefined.variable(name);
    }

    void set(String name, Object value) {
        for (int i = 0; i < size; i++) {
            if (names[i].equals(name)) {
                values[i] = value;
                return;
            }
        }
        if (names == null) {
            names = new String[4];
            values = new Object[4];
        } else if (size == names.length) {
            names = Arrays.copyOf(names, size * 2);
            values = Arrays.copyOf(values, size * 2);
        }
        names[size] = name;
        values[size++] = value;
    }
}
