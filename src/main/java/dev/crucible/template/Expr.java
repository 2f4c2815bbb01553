package dev.crucible.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Expression nodes of the template AST; each evaluates itself against a frame. */
abstract class Expr {
    final int pos;

    Expr(int pos) {
        this.pos = pos;
    }

    abstract Object eval(Interp in, Frame f);

    static final class Const extends Expr {
        final Object value;

        Const(int pos, Object value) {
            super(pos);
            this.value = value;
        }

        @Override
        Object eval(Interp in, Frame f) {
            return value;
        }
    }

    static final class Name extends Expr {
        final String name;

        Name(int pos, String name) {
            super(pos);
            this.name = name;
        }

        @Override
        Object eval(Interp in, Frame f) {
            return f.lookup(name);
        }
    }

    static final class ListLit extends Expr {
        final List<Expr> items;
        final boolean tuple;

        ListLit(int pos, List<Expr> items, boolean tuple) {
            super(pos);
            this.items = items;
            this.tuple = tuple;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object[] out = new Object[items.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = items.get(i).eval(in, f);
            }
            return tuple ? new PyTuple(out) : new ArrayList<>(java.util.Arrays.asList(out));
        }
    }

    static final class DictLit extends Expr {
        final List<Expr> keys;
        final List<Expr> values;

        DictLit(int pos, List<Expr> keys, List<Expr> values) {
            super(pos);
            this.keys = keys;
            this.values = values;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Map<Object, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < keys.size(); i++) {
                m.put(keys.get(i).eval(in, f), values.get(i).eval(in, f));
            }
            return m;
        }
    }

    static final class Getattr extends Expr {
        final Expr obj;
        final String name;

        Getattr(int pos, Expr obj, String name) {
            super(pos);
            this.obj = obj;
            this.name = name;
        }

        @Override
        Object eval(Interp in, Frame f) {
            return Py.getattr(obj.eval(in, f), name);
        }
    }

    static final class Getitem extends Expr {
        final Expr obj;
        final Expr key;

        Getitem(int pos, Expr obj, Expr key) {
            super(pos);
            this.obj = obj;
            this.key = key;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object o = obj.eval(in, f);
            Object k = key.eval(in, f);
            if (k instanceof String s && s.startsWith("_")) {
                return Undefined.unsafe(o, s);
            }
            return Py.getitem(o, k);
        }
    }

    static final class Slice extends Expr {
        final Expr obj;
        final Expr start;
        final Expr stop;
        final Expr step;

        Slice(int pos, Expr obj, Expr start, Expr stop, Expr step) {
            super(pos);
            this.obj = obj;
            this.start = start;
            this.stop = stop;
            this.step = step;
        }

        @Override
        Object eval(Interp in, Frame f) {
            return Py.slice(obj.eval(in, f), opt(start, in, f), opt(stop, in, f), opt(step, in, f));
        }

        private static Object opt(Expr e, Interp in, Frame f) {
            if (e == null) {
                return null;
            }
            return e.eval(in, f);
        }
    }

    /** Positional and keyword arguments of a call, filter or test, with {@code *args} / {@code **kwargs}. */
    record Args(List<Expr> positional, List<String> names, List<Expr> keywords, Expr star, Expr starStar) {
        static final Args NONE = new Args(List.of(), List.of(), List.of(), null, null);

        List<Object> evalPositional(Interp in, Frame f) {
            if (positional.isEmpty() && star == null) {
                return List.of();
            }
            List<Object> out = new ArrayList<>(positional.size());
            for (Expr e : positional) {
                out.add(e.eval(in, f));
            }
            if (star != null) {
                for (Object o : Py.iterate(star.eval(in, f))) {
                    out.add(o);
                }
            }
            return out;
        }

        Map<String, Object> evalKeywords(Interp in, Frame f) {
            if (names.isEmpty() && starStar == null) {
                return Map.of();
            }
            Map<String, Object> out = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), keywords.get(i).eval(in, f));
            }
            if (starStar != null && starStar.eval(in, f) instanceof Map<?, ?> m) {
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    out.put(Py.str(e.getKey()), e.getValue());
                }
            }
            return out;
        }
    }

    static final class Call extends Expr {
        final Expr fn;
        final Args args;

        Call(int pos, Expr fn, Args args) {
            super(pos);
            this.fn = fn;
            this.args = args;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object callee = fn.eval(in, f);
            List<Object> a = args.evalPositional(in, f);
            Map<String, Object> k = args.evalKeywords(in, f);
            return in.call(callee, a, k);
        }
    }

    static final class Filter extends Expr {
        final Expr value;
        final String name;
        final Filters.Filter impl;
        final Args args;

        Filter(int pos, Expr value, String name, Args args) {
            super(pos);
            this.value = value;
            this.name = name;
            this.impl = Filters.get(name);
            this.args = args;
        }

        @Override
        Object eval(Interp in, Frame f) {
            if (impl == null) {
                throw new TemplateException("TemplateAssertionError", "No filter named '" + name + "'.");
            }
            Object v = value == null ? f.lookup(Interp.FILTER_BLOCK_VALUE) : value.eval(in, f);
            return impl.apply(in, v, args.evalPositional(in, f), args.evalKeywords(in, f));
        }
    }

    static final class Test extends Expr {
        final Expr value;
        final String name;
        final Tests.Test impl;
        final Args args;
        final boolean negate;

        Test(int pos, Expr value, String name, Args args, boolean negate) {
            super(pos);
            this.value = value;
            this.name = name;
            this.impl = Tests.get(name);
            this.args = args;
            this.negate = negate;
        }

        @Override
        Object eval(Interp in, Frame f) {
            if (impl == null) {
                throw new TemplateException("TemplateAssertionError", "No test named '" + name + "'.");
            }
            boolean r = impl.test(in, value.eval(in, f), args.evalPositional(in, f), args.evalKeywords(in, f));
            return r != negate;
        }
    }

    static final class Unary extends Expr {
        final char op;
        final Expr operand;

        Unary(int pos, char op, Expr operand) {
            super(pos);
            this.op = op;
            this.operand = operand;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object v = operand.eval(in, f);
            return switch (op) {
                case '-' -> Py.neg(v);
                case '+' -> Py.pos(v);
                default -> !Py.truthy(v);
            };
        }
    }

    static final class Binary extends Expr {
        final char op;
        final Expr left;
        final Expr right;

        /** op is one of + - * / // % ** (// is stored as 'f', ** as 'p'). */
        Binary(int pos, String op, Expr left, Expr right) {
            super(pos);
            this.op = op.equals("//") ? 'f' : op.equals("**") ? 'p' : op.charAt(0);
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object a = left.eval(in, f);
            Object b = right.eval(in, f);
            if (a instanceof String x && b instanceof String y) {
                in.checkSize((long) x.length() + y.length());
            }
            Object r = switch (op) {
                case '+' -> Py.add(a, b);
                case '-' -> Py.sub(a, b);
                case '*' -> Py.mul(a, b, in.options.maxOutputChars());
                case '/' -> Py.div(a, b);
                case 'f' -> Py.floordiv(a, b);
                case '%' -> Py.mod(a, b);
                case 'p' -> Py.pow(a, b);
                default -> throw new IllegalStateException(String.valueOf(op));
            };
            if (r instanceof String s) {
                in.checkSize(s.length());
            }
            return r;
        }
    }

    static final class And extends Expr {
        final Expr left;
        final Expr right;

        And(int pos, Expr left, Expr right) {
            super(pos);
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object a = left.eval(in, f);
            return Py.truthy(a) ? right.eval(in, f) : a;
        }
    }

    static final class Or extends Expr {
        final Expr left;
        final Expr right;

        Or(int pos, Expr left, Expr right) {
            super(pos);
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object a = left.eval(in, f);
            return Py.truthy(a) ? a : right.eval(in, f);
        }
    }

    /** A (possibly chained) comparison {@code a < b <= c}. */
    static final class Compare extends Expr {
        final Expr first;
        final String[] ops;
        final Expr[] rest;

        Compare(int pos, Expr first, List<String> ops, List<Expr> rest) {
            super(pos);
            this.first = first;
            this.ops = ops.stream().map(String::intern).toArray(String[]::new);
            this.rest = rest.toArray(Expr[]::new);
        }

        @Override
        Object eval(Interp in, Frame f) {
            Object a = first.eval(in, f);
            for (int i = 0; i < ops.length; i++) {
                Object b = rest[i].eval(in, f);
                if (!compare(ops[i], a, b)) {
                    return false;
                }
                a = b;
            }
            return true;
        }

        static boolean compare(String op, Object a, Object b) {
            if (op == "==") { // interned: the common case without a string switch
                return Py.eq(a, b);
            }
            return switch (op) {
                case "==" -> Py.eq(a, b);
                case "!=" -> !Py.eq(a, b);
                case "<" -> Py.compare(a, b, op) < 0;
                case "<=" -> Py.compare(a, b, op) <= 0;
                case ">" -> Py.compare(a, b, op) > 0;
                case ">=" -> Py.compare(a, b, op) >= 0;
                case "in" -> Py.contains(b, a);
                case "notin" -> !Py.contains(b, a);
                default -> throw new IllegalStateException(op);
            };
        }
    }

    static final class CondExpr extends Expr {
        final Expr test;
        final Expr then;
        final Expr otherwise;

        CondExpr(int pos, Expr test, Expr then, Expr otherwise) {
            super(pos);
            this.test = test;
            this.then = then;
            this.otherwise = otherwise;
        }

        @Override
        Object eval(Interp in, Frame f) {
            if (Py.truthy(test.eval(in, f))) {
                return then.eval(in, f);
            }
            return otherwise == null ? Undefined.hint("the inline if-expression on line evaluated to false and "
                    + "no else section was defined.") : otherwise.eval(in, f);
        }
    }

    /** {@code a ~ b ~ c}: string concatenation of any values. */
    static final class Concat extends Expr {
        final List<Expr> parts;

        Concat(int pos, List<Expr> parts) {
            super(pos);
            this.parts = parts;
        }

        @Override
        Object eval(Interp in, Frame f) {
            StringBuilder sb = new StringBuilder();
            for (Expr e : parts) {
                sb.append(Py.str(e.eval(in, f)));
                in.checkSize(sb.length());
            }
            return sb.toString();
        }
    }
}
