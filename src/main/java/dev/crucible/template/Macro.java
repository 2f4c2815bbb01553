package dev.crucible.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A macro (or the {@code caller} of a call block): renders its body in a fresh scope and returns the text. */
final class Macro implements PyCallable {
    private final String name;
    private final Stmt.Params params;
    private final List<Stmt> body;
    private final Frame closure;

    Macro(String name, Stmt.Params params, List<Stmt> body, Frame closure) {
        this.name = name;
        this.params = params;
        this.body = body;
        this.closure = closure;
    }

    String name() {
        return name;
    }

    @Override
    public Object call(Interp in, List<Object> args, Map<String, Object> kwargs) {
        in.tick();
        in.enter();
        try {
            Frame f = new Frame(closure);
            List<String> names = params.names();
            Map<String, Object> extra = new LinkedHashMap<>(kwargs);
            for (int i = 0; i < names.size(); i++) {
                String p = names.get(i);
                if (i < args.size()) {
                    if (extra.containsKey(p)) {
                        throw Py.typeError("macro '" + name + "' got multiple values for argument '" + p + "'");
                    }
                    f.set(p, args.get(i));
                } else if (extra.containsKey(p)) {
                    f.set(p, extra.remove(p));
                } else if (params.defaults().get(i) != null) {
                    f.set(p, params.defaults().get(i).eval(in, f));
                } else {
                    f.set(p, Undefined.hint("parameter '" + p + "' was not provided"));
                }
            }
            if (extra.containsKey("caller")) {
                f.set("caller", extra.remove("caller"));
            }
            List<Object> varargs = new ArrayList<>();
            for (int i = names.size(); i < args.size(); i++) {
                varargs.add(args.get(i));
            }
            f.set("varargs", PyTuple.of(varargs));
            f.set("kwargs", new LinkedHashMap<Object, Object>(extra));
            return in.capture(body, f);
        } finally {
            in.exit();
        }
    }
}
