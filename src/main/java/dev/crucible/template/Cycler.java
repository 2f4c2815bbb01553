package dev.crucible.template;

import java.util.List;

/** Jinja2's {@code cycler(*items)}: {@code next()}, {@code reset()}, {@code current}. */
final class Cycler {
    private final List<Object> items;
    private int pos;

    Cycler(List<Object> items) {
        if (items.isEmpty()) {
            throw new TemplateException("RuntimeError", "at least one item has to be provided");
        }
        this.items = List.copyOf(items);
    }

    Object attr(String name) {
        return switch (name) {
            case "current" -> items.get(pos);
            case "items" -> items;
            case "next" -> (PyCallable) (in, a, k) -> {
                Object rv = items.get(pos);
                pos = (pos + 1) % items.size();
                return rv;
            };
            case "reset" -> (PyCallable) (in, a, k) -> {
                pos = 0;
                return null;
            };
            default -> Undefined.member(this, name);
        };
    }
}
