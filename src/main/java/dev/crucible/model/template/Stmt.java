package dev.crucible.model.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Statement nodes of the template AST; each renders itself into the interpreter's output. */
abstract class Stmt {
    final int pos;

    Stmt(int pos) {
        this.pos = pos;
    }

    abstract void exec(Interp in, Frame f);

    static void execAll(List<Stmt> body, Interp in, Frame f) {
        for (int i = 0, n = body.size(); i < n; i++) {
            body.get(i).exec(in, f);
        }
    }

    static final class Data extends Stmt {
        final String text;

        Data(int pos, String text) {
            super(pos);
            this.text = text;
        }

        @Override
        void exec(Interp in, Frame f) {
            in.write(text);
        }
    }

    static final class Emit extends Stmt {
        final Expr expr;

        Emit(int pos, Expr expr) {
            super(pos);
            this.expr = expr;
        }

        @Override
        void exec(Interp in, Frame f) {
            Object v = expr.eval(in, f);
            if (v instanceof Undefined u && in.options.lmEvalHarness()) {
                throw u.fail(); // lm-eval's StrictUndefined: a misspelt field is an error, not an empty prompt
            }
            in.write(Py.str(v));
        }
    }

    static final class If extends Stmt {
        final List<Expr> tests;
        final List<List<Stmt>> bodies;
        final List<Stmt> otherwise;

        If(int pos, List<Expr> tests, List<List<Stmt>> bodies, List<Stmt> otherwise) {
            super(pos);
            this.tests = tests;
            this.bodies = bodies;
            this.otherwise = otherwise;
        }

        @Override
        void exec(Interp in, Frame f) {
            for (int i = 0; i < tests.size(); i++) {
                if (Py.truthy(tests.get(i).eval(in, f))) {
                    execAll(bodies.get(i), in, f);
                    return;
                }
            }
            execAll(otherwise, in, f);
        }
    }

    /** An assignment target: a name, a tuple of names to unpack, or {@code ns.attr}. */
    record Target(String name, List<Target> tuple, String attr) {
        void assign(Frame f, Object value) {
            if (tuple != null) {
                List<Object> items = Py.toList(value);
                if (items.size() != tuple.size()) {
                    throw new TemplateException("ValueError", items.size() < tuple.size()
                            ? "not enough values to unpack (expected " + tuple.size() + ", got " + items.size() + ")"
                            : "too many values to unpack (expected " + tuple.size() + ")");
                }
                for (int i = 0; i < items.size(); i++) {
                    tuple.get(i).assign(f, items.get(i));
                }
            } else if (attr != null) {
                Object ns = f.lookup(name);
                if (!(ns instanceof Namespace n)) {
                    throw new TemplateException("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
                }
                n.attrs.put(attr, value);
            } else {
                f.set(name, value);
            }
        }
    }

    static final class Set extends Stmt {
        final Target target;
        final Expr value;

        Set(int pos, Target target, Expr value) {
            super(pos);
            this.target = target;
            this.value = value;
        }

        @Override
        void exec(Interp in, Frame f) {
            target.assign(f, value.eval(in, f));
        }
    }

    /** {@code {% set x | filter %}...{% endset %}}. */
    static final class SetBlock extends Stmt {
        final Target target;
        final Expr filter;
        final List<Stmt> body;

        SetBlock(int pos, Target target, Expr filter, List<Stmt> body) {
            super(pos);
            this.target = target;
            this.filter = filter;
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            Object v = in.capture(body, f);
            if (filter != null) {
                Frame ff = new Frame(f);
                ff.set(Interp.FILTER_BLOCK_VALUE, v);
                v = filter.eval(in, ff);
            }
            target.assign(f, v);
        }
    }

    static final class FilterBlock extends Stmt {
        final Expr filter;
        final List<Stmt> body;

        FilterBlock(int pos, Expr filter, List<Stmt> body) {
            super(pos);
            this.filter = filter;
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            Frame ff = new Frame(f);
            ff.set(Interp.FILTER_BLOCK_VALUE, in.capture(body, f));
            in.write(Py.str(filter.eval(in, ff)));
        }
    }

    static final class For extends Stmt {
        final Target target;
        final Expr iter;
        final Expr filter;
        final List<Stmt> body;
        final List<Stmt> otherwise;
        final boolean recursive;

        For(int pos, Target target, Expr iter, Expr filter, List<Stmt> body, List<Stmt> otherwise, boolean recursive) {
            super(pos);
            this.target = target;
            this.iter = iter;
            this.filter = filter;
            this.body = body;
            this.otherwise = otherwise;
            this.recursive = recursive;
        }

        @Override
        void exec(Interp in, Frame f) {
            run(in, f, iter.eval(in, f), 1);
        }

        void run(Interp in, Frame f, Object iterable, int depth) {
            List<Object> items = Py.asList(iterable);
            if (filter != null) {
                List<Object> kept = new ArrayList<>();
                for (Object item : items) {
                    Frame tf = new Frame(f);
                    target.assign(tf, item);
                    if (Py.truthy(filter.eval(in, tf))) {
                        kept.add(item);
                    }
                }
                items = kept;
            }
            if (items.isEmpty()) {
                execAll(otherwise, in, f);
                return;
            }
            LoopContext loop = new LoopContext(items, depth, recursive ? this : null, f);
            for (int i = 0; i < items.size(); i++) {
                in.tick();
                Frame it = new Frame(f);
                loop.index0 = i;
                it.set("loop", loop);
                target.assign(it, items.get(i));
                try {
                    execAll(body, in, it);
                } catch (Interp.Break b) {
                    break;
                } catch (Interp.Continue c) {
                    // next item
                }
            }
        }
    }

    static final class Break extends Stmt {
        Break(int pos) {
            super(pos);
        }

        @Override
        void exec(Interp in, Frame f) {
            throw Interp.Break.INSTANCE;
        }
    }

    static final class Continue extends Stmt {
        Continue(int pos) {
            super(pos);
        }

        @Override
        void exec(Interp in, Frame f) {
            throw Interp.Continue.INSTANCE;
        }
    }

    /** A macro parameter list: names and default expressions (null where none). */
    record Params(List<String> names, List<Expr> defaults) {
        static final Params NONE = new Params(List.of(), List.of());
    }

    static final class MacroDef extends Stmt {
        final String name;
        final Params params;
        final List<Stmt> body;

        MacroDef(int pos, String name, Params params, List<Stmt> body) {
            super(pos);
            this.name = name;
            this.params = params;
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            f.set(name, new Macro(name, params, body, f));
        }
    }

    /** {@code {% call(args) macro(...) %}body{% endcall %}}: the body becomes {@code caller}. */
    static final class CallBlock extends Stmt {
        final Expr.Call call;
        final Params params;
        final List<Stmt> body;

        CallBlock(int pos, Expr.Call call, Params params, List<Stmt> body) {
            super(pos);
            this.call = call;
            this.params = params;
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            Object callee = call.fn.eval(in, f);
            List<Object> a = call.args.evalPositional(in, f);
            Map<String, Object> k = new java.util.LinkedHashMap<>(call.args.evalKeywords(in, f));
            k.put("caller", new Macro("caller", params, body, f));
            in.write(Py.str(in.call(callee, a, k)));
        }
    }

    static final class With extends Stmt {
        final List<Target> targets;
        final List<Expr> values;
        final List<Stmt> body;

        With(int pos, List<Target> targets, List<Expr> values, List<Stmt> body) {
            super(pos);
            this.targets = targets;
            this.values = values;
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            Frame w = new Frame(f);
            for (int i = 0; i < targets.size(); i++) {
                targets.get(i).assign(w, values.get(i).eval(in, f));
            }
            execAll(body, in, w);
        }
    }

    /**
     * transformers' {@code {% generation %}} tag: renders its body. (transformers records the block for its
     * assistant-token mask; Crucible locates turns by diffing renders for every template, see TurnFinder.)
     */
    static final class Generation extends Stmt {
        final List<Stmt> body;

        Generation(int pos, List<Stmt> body) {
            super(pos);
            this.body = body;
        }

        @Override
        void exec(Interp in, Frame f) {
            execAll(body, in, f);
        }
    }
}
