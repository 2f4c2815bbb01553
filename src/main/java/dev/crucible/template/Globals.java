package dev.crucible.template;

import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.crucible.template.Bind.REQUIRED;
import static dev.crucible.template.Bind.bind;

/** Global functions: Jinja2's (range, dict, namespace, cycler, joiner) and transformers' additions. */
final class Globals {
    private Globals() {
    }

    /** Jinja2's sandbox refuses ranges longer than this. */
    static final long MAX_RANGE = 100_000;

    static final Map<String, Object> ALL;

    static {
        Map<String, Object> g = new HashMap<>();
        g.put("range", (PyCallable) Globals::range);
        g.put("dict", (PyCallable) (in, a, k) -> {
            if (!a.isEmpty()) {
                throw Py.typeError("dict() positional arguments are not supported in templates");
            }
            return new LinkedHashMap<Object, Object>(k);
        });
        g.put("namespace", (PyCallable) (in, a, k) -> {
            Namespace ns = new Namespace();
            for (Object o : a) {
                if (o instanceof Map<?, ?> m) {
                    m.forEach((key, v) -> ns.attrs.put(Py.str(key), v));
                }
            }
            ns.attrs.putAll(k);
            return ns;
        });
        g.put("cycler", (PyCallable) (in, a, k) -> new Cycler(a));
        g.put("joiner", (PyCallable) (in, a, k) -> {
            String sep = Py.str(bind("joiner", a, k, new String[] {"sep"}, ", ")[0]);
            boolean[] used = {false};
            return (PyCallable) (in2, a2, k2) -> {
                if (!used[0]) {
                    used[0] = true;
                    return "";
                }
                return sep;
            };
        });
        g.put("raise_exception", (PyCallable) (in, a, k) -> {
            Object msg = bind("raise_exception", a, k, new String[] {"message"}, REQUIRED)[0];
            throw new TemplateException.Raised(Py.str(msg));
        });
        g.put("strftime_now", (PyCallable) (in, a, k) -> {
            Object fmt = bind("strftime_now", a, k, new String[] {"format"}, REQUIRED)[0];
            ZonedDateTime now = in.clock.get();
            return Strftime.format(Bind.toStr(fmt, "format"), now);
        });
        ALL = Map.copyOf(g);
    }

    private static Object range(Interp in, List<Object> a, Map<String, Object> k) {
        if (!k.isEmpty()) {
            throw Py.typeError("range() takes no keyword arguments");
        }
        long start = 0;
        long stop;
        long step = 1;
        switch (a.size()) {
            case 1 -> stop = Bind.toLong(a.get(0), "range() argument");
            case 2, 3 -> {
                start = Bind.toLong(a.get(0), "range() argument");
                stop = Bind.toLong(a.get(1), "range() argument");
                if (a.size() == 3) {
                    step = Bind.toLong(a.get(2), "range() argument");
                }
            }
            default -> throw Py.typeError("range expected 1 to 3 arguments, got " + a.size());
        }
        if (step == 0) {
            throw new TemplateException("ValueError", "range() arg 3 must not be zero");
        }
        long n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (n > MAX_RANGE) {
            throw new TemplateException("OverflowError",
                    "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
        }
        return new PyRange(start, stop, step, (int) n);
    }
}
