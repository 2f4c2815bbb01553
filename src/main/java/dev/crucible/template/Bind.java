package dev.crucible.template;

import java.util.List;
import java.util.Map;

/** Binds positional and keyword arguments to named parameters with defaults, as Python does. */
final class Bind {
    private Bind() {
    }

    /** A parameter with no default: binding fails when it is missing. */
    static final Object REQUIRED = new Object();

    static Object[] bind(String fn, List<Object> args, Map<String, Object> kwargs, String[] names, Object... defaults) {
        if (args.size() > names.length) {
            throw Py.typeError(fn + "() takes at most " + names.length + " argument(s) (" + args.size() + " given)");
        }
        Object[] out = new Object[names.length];
        for (int i = 0; i < names.length; i++) {
            if (i < args.size()) {
                if (kwargs.containsKey(names[i])) {
                    throw Py.typeError(fn + "() got multiple values for argument '" + names[i] + "'");
                }
                out[i] = args.get(i);
            } else if (kwargs.containsKey(names[i])) {
                out[i] = kwargs.get(names[i]);
            } else if (defaults[i] == REQUIRED) {
                throw Py.typeError(fn + "() missing required argument '" + names[i] + "'");
            } else {
                out[i] = defaults[i];
            }
        }
        for (String k : kwargs.keySet()) {
            if (!List.of(names).contains(k)) {
                throw Py.typeError(fn + "() got an unexpected keyword argument '" + k + "'");
            }
        }
        return out;
    }

    static long toLong(Object o, String what) {
        if (Py.isInt(o)) {
            return Py.asLong(o);
        }
        Py.checkUndefined(o);
        throw Py.typeError(what + " must be an integer, not '" + Py.typeName(o) + "'");
    }

    static String toStr(Object o, String what) {
        if (o instanceof String s) {
            return s;
        }
        if (o instanceof Markup m) {
            return m.text();
        }
        Py.checkUndefined(o);
        throw Py.typeError(what + " must be str, not " + Py.typeName(o));
    }
}
