package dev.crucible.template;

import java.util.Iterator;

/**
 * A lazy one-shot sequence, as Jinja2's {@code map}, {@code select}, {@code items}, {@code reverse}, ...
 * filters return: it can be iterated once, is always truthy and has no length.
 */
final class PyGenerator implements Iterable<Object> {
    private final String name;
    private Iterator<Object> it;

    PyGenerator(String name, Iterator<Object> it) {
        this.name = name;
        this.it = it;
    }

    String name() {
        return name;
    }

    @Override
    public Iterator<Object> iterator() {
        Iterator<Object> i = it;
        it = java.util.Collections.emptyIterator();
        return i;
    }
}
