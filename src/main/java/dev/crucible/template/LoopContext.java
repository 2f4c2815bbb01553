package dev.crucible.template;

import java.util.List;
import java.util.Map;

/** The {@code loop} variable of a for loop; callable ({@code loop(children)}) in a recursive loop. */
final class LoopContext implements PyCallable {
    private final List<Object> items;
    private final int depth;
    private final Stmt.For recursiveLoop;
    private final Frame outer;
    int index0;
    private Object lastChanged = LoopContext.class;

    LoopContext(List<Object> items, int depth, Stmt.For recursiveLoop, Frame outer) {
        this.items = items;
        this.depth = depth;
        this.recursiveLoop = recursiveLoop;
        this.outer = outer;
    }

    int index0() {
        return index0;
    }

    int length() {
        return items.size();
    }

    Object attr(String name) {
        int n = items.size();
        return switch (name) {
            case "index" -> (long) index0 + 1;
            case "index0" -> (long) index0;
            case "revindex" -> (long) (n - index0);
            case "revindex0" -> (long) (n - index0 - 1);
            case "first" -> index0 == 0;
            case "last" -> index0 == n - 1;
            case "length" -> (long) n;
            case "depth" -> (long) depth;
            case "depth0" -> (long) depth - 1;
            case "previtem" -> index0 > 0 ? items.get(index0 - 1) : Undefined.hint("there is no previous item");
            case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : Undefined.hint("there is no next item");
            case "cycle" -> (PyCallable) (in, args, kw) -> {
                if (args.isEmpty()) {
                    throw Py.typeError("no items for cycling given");
                }
                return args.get(index0 % args.size());
            };
            case "changed" -> (PyCallable) (in, args, kw) -> {
                Object now = args.size() == 1 ? args.getFirst() : PyTuple.of(args);
                if (lastChanged != LoopContext.class && Py.eq(lastChanged, now)) {
                    return false;
                }
                lastChanged = now;
                return true;
            };
            default -> Undefined.member(this, name);
        };
    }

    @Override
    public Object call(Interp in, List<Object> args, Map<String, Object> kwargs) {
        if (recursiveLoop == null) {
            throw new TemplateException("TypeError", "The loop must be marked recursive to be called ('loop' is not callable)");
        }
        if (args.size() != 1) {
            throw Py.typeError("loop() takes exactly one argument");
        }
        in.enter();
        try {
            return in.capture(() -> recursiveLoop.run(in, outer, args.getFirst(), depth + 1));
        } finally {
            in.exit();
        }
    }
}
