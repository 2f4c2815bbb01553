package dev.crucible.template;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * {@code dict.items()}, {@code keys()}, {@code values()}: iterable with a length, but not subscriptable and
 * printed as {@code dict_items([...])}, as in Python.
 */
final class DictView extends AbstractList<Object> implements RandomAccess {
    private final String kind;
    private final List<Object> items;

    DictView(String kind, List<Object> items) {
        this.kind = kind;
        this.items = items;
    }

    String kind() {
        return kind;
    }

    @Override
    public Object get(int index) {
        return items.get(index);
    }

    @Override
    public int size() {
        return items.size();
    }
}
