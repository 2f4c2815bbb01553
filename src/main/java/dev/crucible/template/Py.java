package dev.crucible.template;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Python value semantics for template values. Values are: null (None), {@link Undefined}, Boolean, Long,
 * Double, String, List (a Python list; {@link PyTuple} for tuples), Map (dict), {@link Namespace},
 * {@link PyGenerator}, {@link PyCallable} and {@link LoopContext}. No Java method of any other object is
 * ever reached from a template.
 */
final class Py {
    private Py() {
    }

    static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "replace", "upper", "lower", "title", "capitalize", "swapcase", "casefold",
            "find", "rfind", "index", "rindex", "count", "join", "format", "center", "ljust", "rjust", "zfill",
            "partition", "rpartition", "removeprefix", "removesuffix", "isdigit", "isalpha", "isalnum", "isspace",
            "isupper", "islower", "istitle", "isnumeric", "isdecimal", "expandtabs");
    static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    static final Set<String> LIST_UNSAFE = Set.of("append", "clear", "pop", "reverse", "insert", "sort", "extend",
            "remove");
    static final Set<String> DICT_METHODS = Set.of("get", "items", "keys", "values", "copy");
    static final Set<String> DICT_UNSAFE = Set.of("clear", "pop", "popitem", "setdefault", "update");

    static String typeName(Object o) {
        return switch (o) {
            case null -> "NoneType";
            case Boolean b -> "bool";
            case Long l -> "int";
            case Double d -> "float";
            case String s -> "str";
            case Markup m -> "Markup";
            case PyTuple t -> "tuple";
            case PyRange r -> "range";
            case DictView v -> v.kind();
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Undefined u -> "Undefined";
            case Namespace n -> "Namespace";
            case Cycler c -> "Cycler";
            case PyGenerator g -> "generator";
            case LoopContext l -> "LoopContext";
            case Macro m -> "Macro";
            case PyCallable c -> "builtin_function_or_method";
            default -> o.getClass().getSimpleName();
        };
    }

    static TemplateException typeError(String msg) {
        return new TemplateException("TypeError", msg);
    }

    static boolean truthy(Object o) {
        return switch (o) {
            case null -> false;
            case Boolean b -> b;
            case String s -> !s.isEmpty();
            case Markup m -> !m.text().isEmpty();
            case Long l -> l != 0;
            case Double d -> d != 0.0;
            case Collection<?> c -> !c.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            case Undefined u -> false;
            default -> true;
        };
    }

    // ---- str / repr ----

    static String str(Object o) {
        return switch (o) {
            case String s -> s;
            case null -> "None";
            case Boolean b -> b ? "True" : "False";
            case Long l -> l.toString();
            case Double d -> floatRepr(d);
            case Undefined u -> "";
            case Markup m -> m.text();
            default -> repr(o);
        };
    }

    static String repr(Object o) {
        StringBuilder sb = new StringBuilder();
        appendRepr(sb, o, 0);
        return sb.toString();
    }

    private static void appendRepr(StringBuilder sb, Object o, int depth) {
        if (depth > 100) {
            throw new TemplateException("RecursionError", "maximum recursion depth exceeded while getting the repr");
        }
        switch (o) {
            case null -> sb.append("None");
            case String s -> sb.append(PyStr.repr(s));
            case PyRange r -> sb.append(r.repr());
            case DictView v -> {
                sb.append(v.kind()).append('(');
                appendRepr(sb, new java.util.ArrayList<>(v), depth + 1);
                sb.append(')');
            }
            case Markup m -> sb.append("Markup(").append(PyStr.repr(m.text())).append(')');
            case PyTuple t -> {
                sb.append('(');
                for (int i = 0; i < t.size(); i++) {
                    if (i > 0) {
                        sb.append(", ");
                    }
                    appendRepr(sb, t.get(i), depth + 1);
                }
                sb.append(t.size() == 1 ? ",)" : ")");
            }
            case List<?> l -> {
                sb.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        sb.append(", ");
                    }
                    appendRepr(sb, l.get(i), depth + 1);
                }
                sb.append(']');
            }
            case Map<?, ?> m -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        sb.append(", ");
                    }
                    first = false;
                    appendRepr(sb, e.getKey(), depth + 1);
                    sb.append(": ");
                    appendRepr(sb, e.getValue(), depth + 1);
                }
                sb.append('}');
            }
            case Undefined u -> sb.append("Undefined");
            case Namespace n -> {
                sb.append("<Namespace ");
                appendRepr(sb, n.attrs, depth + 1);
                sb.append('>');
            }
            case PyGenerator g -> sb.append("<generator object ").append(g.name()).append(">");
            case Macro m -> sb.append("<Macro '").append(m.name()).append("'>");
            case BoundMethod b -> sb.append("<built-in method ").append(b.name()).append(" of ")
                    .append(typeName(b.receiver())).append(" object>");
            case LoopContext l -> sb.append("<LoopContext ").append(l.index0() + 1).append('/')
                    .append(l.length()).append('>');
            case PyCallable c -> sb.append("<built-in function>");
            default -> sb.append(str(o));
        }
    }

    /** Python's {@code repr(float)}: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0.0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = shortest(Math.abs(d));
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale();
        StringBuilder sb = new StringBuilder(24);
        if (d < 0) {
            sb.append('-');
        }
        if (exp < -4 || exp >= 16) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) {
                sb.append('.').append(digits, 1, digits.length());
            }
            sb.append('e').append(exp < 0 ? '-' : '+');
            int ae = Math.abs(exp);
            if (ae < 10) {
                sb.append('0');
            }
            sb.append(ae);
        } else if (exp >= 0) {
            if (digits.length() <= exp + 1) {
                sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0");
            } else {
                sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
            }
        } else {
            sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
        }
        return sb.toString();
    }

    /**
     * The shortest decimal that reads back as {@code d}. Double.toString gives it for normal numbers (JDK 19+),
     * but always prints two digits, so subnormals like 5e-324 need the search.
     */
    private static BigDecimal shortest(double d) {
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        if (d < Double.MIN_NORMAL && bd.precision() > 1) {
            BigDecimal exact = new BigDecimal(d);
            for (int digits = 1; digits < bd.precision(); digits++) {
                BigDecimal r = exact.round(new java.math.MathContext(digits, RoundingMode.HALF_EVEN));
                if (r.doubleValue() == d) {
                    return r.stripTrailingZeros();
                }
            }
        }
        return bd;
    }

    // ---- numbers ----

    static boolean isNumber(Object o) {
        return o instanceof Long || o instanceof Double || o instanceof Boolean;
    }

    static boolean isInt(Object o) {
        return o instanceof Long || o instanceof Boolean;
    }

    static long asLong(Object o) {
        return o instanceof Boolean b ? (b ? 1 : 0) : (Long) o;
    }

    static double asDouble(Object o) {
        return switch (o) {
            case Boolean b -> b ? 1 : 0;
            case Long l -> l;
            default -> (Double) o;
        };
    }

    private static TemplateException unsupported(String op, Object a, Object b) {
        checkUndefined(a);
        checkUndefined(b);
        return typeError("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static void checkUndefined(Object o) {
        if (o instanceof Undefined u) {
            throw u.fail();
        }
    }

    static Object add(Object a, Object b) {
        if (a instanceof String s && b instanceof String t) {
            return s.concat(t);
        }
        if ((a instanceof Markup || b instanceof Markup) && Markup.isStr(a) && Markup.isStr(b)) {
            return Markup.concat(a, b);
        }
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) {
                return exact(() -> Math.addExact(asLong(a), asLong(b)));
            }
            return asDouble(a) + asDouble(b);
        }
        if (a instanceof PyTuple x && b instanceof PyTuple y) {
            List<Object> l = new ArrayList<>(x);
            l.addAll(y);
            return PyTuple.of(l);
        }
        if (a instanceof List<?> x && b instanceof List<?> y && !(a instanceof PyTuple) && !(b instanceof PyTuple)
                && !(a instanceof DictView) && !(b instanceof DictView) && !(a instanceof PyRange) && !(b instanceof PyRange)) {
            List<Object> l = new ArrayList<>(x.size() + y.size());
            l.addAll(x);
            l.addAll(y);
            return l;
        }
        if (a instanceof String && !(b instanceof Undefined)) {
            throw typeError("can only concatenate str (not \"" + typeName(b) + "\") to str");
        }
        if (a instanceof PyTuple && !(b instanceof Undefined)) {
            throw typeError("can only concatenate tuple (not \"" + typeName(b) + "\") to tuple");
        }
        if (a instanceof List<?> && !(a instanceof DictView) && !(a instanceof PyRange) && !(b instanceof Undefined)) {
            throw typeError("can only concatenate list (not \"" + typeName(b) + "\") to list");
        }
        throw unsupported("+", a, b);
    }

    private interface LongOp {
        long get();
    }

    private static Object exact(LongOp op) {
        try {
            return op.get();
        } catch (ArithmeticException e) {
            throw new TemplateException("OverflowError", "integer result too large");
        }
    }

    /** Markup's % escapes string arguments; other values are formatted as they are. */
    private static Object escapeArg(Object o) {
        return Markup.isStr(o) ? Markup.escape(o).text() : o;
    }

    static Object sub(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            return isInt(a) && isInt(b) ? exact(() -> Math.subtractExact(asLong(a), asLong(b)))
                    : (Object) (asDouble(a) - asDouble(b));
        }
        throw unsupported("-", a, b);
    }

    static Object mul(Object a, Object b, long maxLen) {
        if (isNumber(a) && isNumber(b)) {
            return isInt(a) && isInt(b) ? exact(() -> Math.multiplyExact(asLong(a), asLong(b)))
                    : (Object) (asDouble(a) * asDouble(b));
        }
        if (isInt(b) && (a instanceof String || a instanceof List)) {
            return repeat(a, asLong(b), maxLen);
        }
        if (isInt(a) && (b instanceof String || b instanceof List)) {
            return repeat(b, asLong(a), maxLen);
        }
        throw unsupported("*", a, b);
    }

    private static Object repeat(Object seq, long times, long maxLen) {
        long n = Math.max(0, times);
        if (seq instanceof String s) {
            if (n * s.length() > maxLen) {
                throw new TemplateException.LimitExceeded("string of " + (n * s.length())
                        + " characters exceeds the limit of " + maxLen);
            }
            return s.repeat((int) n);
        }
        List<?> l = (List<?>) seq;
        if (n * l.size() > maxLen) {
            throw new TemplateException.LimitExceeded("list of " + (n * l.size()) + " items exceeds the limit");
        }
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            out.addAll(l);
        }
        return seq instanceof PyTuple ? PyTuple.of(out) : out;
    }

    static Object div(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            double y = asDouble(b);
            if (y == 0) {
                throw new TemplateException("ZeroDivisionError", "division by zero");
            }
            return asDouble(a) / y;
        }
        throw unsupported("/", a, b);
    }

    static Object floordiv(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) {
                long y = asLong(b);
                if (y == 0) {
                    throw new TemplateException("ZeroDivisionError", "integer division or modulo by zero");
                }
                return Math.floorDiv(asLong(a), y);
            }
            double y = asDouble(b);
            if (y == 0) {
                throw new TemplateException("ZeroDivisionError", "float floor division by zero");
            }
            return Math.floor(asDouble(a) / y);
        }
        throw unsupported("//", a, b);
    }

    static Object mod(Object a, Object b) {
        if (a instanceof String s) {
            return Formatting.percent(s, b);
        }
        if (a instanceof Markup m) {
            Object args = b instanceof PyTuple t ? new PyTuple(t.stream().map(Py::escapeArg).toArray())
                    : escapeArg(b);
            return new Markup(Formatting.percent(m.text(), args));
        }
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) {
                long y = asLong(b);
                if (y == 0) {
                    throw new TemplateException("ZeroDivisionError", "integer division or modulo by zero");
                }
                return Math.floorMod(asLong(a), y);
            }
            double x = asDouble(a);
            double y = asDouble(b);
            if (y == 0) {
                throw new TemplateException("ZeroDivisionError", "float modulo");
            }
            double r = x % y;
            if (r != 0 && (r < 0) != (y < 0)) {
                r += y;
            }
            return r == 0 ? Math.copySign(0.0, y) : r;
        }
        throw unsupported("%", a, b);
    }

    static Object pow(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b) && asLong(b) >= 0) {
                long base = asLong(a);
                long e = asLong(b);
                long r = 1;
                try {
                    for (long i = 0; i < e; i++) {
                        r = Math.multiplyExact(r, base);
                        if (r == 0 || r == 1 && base == 1) {
                            break;
                        }
                    }
                } catch (ArithmeticException ex) {
                    throw new TemplateException("OverflowError", "integer result too large");
                }
                return r;
            }
            return Math.pow(asDouble(a), asDouble(b));
        }
        throw unsupported("** or pow()", a, b);
    }

    static Object neg(Object a) {
        return switch (a) {
            case Boolean b -> b ? -1L : 0L;
            case Long l -> -l;
            case Double d -> -d;
            case Undefined u -> throw u.fail();
            case null, default -> throw typeError("bad operand type for unary -: '" + typeName(a) + "'");
        };
    }

    static Object pos(Object a) {
        return switch (a) {
            case Boolean b -> b ? 1L : 0L;
            case Long l -> l;
            case Double d -> d;
            case Undefined u -> throw u.fail();
            case null, default -> throw typeError("bad operand type for unary +: '" + typeName(a) + "'");
        };
    }

    // ---- comparison ----

    static boolean eq(Object a, Object b) {
        if (a == b) {
            return true;
        }
        if (a instanceof Markup || b instanceof Markup) {
            return eq(Markup.plain(a), Markup.plain(b));
        }
        if (a == null || b == null) {
            return false;
        }
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) {
                return asLong(a) == asLong(b);
            }
            return asDouble(a) == asDouble(b);
        }
        if (a instanceof String s) {
            return s.equals(b);
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (a.getClass() != b.getClass() && (a instanceof PyTuple || b instanceof PyTuple
                    || a instanceof DictView || b instanceof DictView || a instanceof PyRange || b instanceof PyRange)
                    || x.size() != y.size()) {
                return false;
            }
            for (int i = 0; i < x.size(); i++) {
                if (!eq(x.get(i), y.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) {
                return false;
            }
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !eq(e.getValue(), y.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Undefined && b instanceof Undefined) {
            return true;
        }
        return a.equals(b);
    }

    /** Python ordering ({@code <}); raises TypeError for unorderable types. */
    static int compare(Object a, Object b, String op) {
        if (a instanceof Markup || b instanceof Markup) {
            return compare(Markup.plain(a), Markup.plain(b), op);
        }
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) {
                return Long.compare(asLong(a), asLong(b));
            }
            double x = asDouble(a);
            double y = asDouble(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a instanceof String s && b instanceof String t) {
            return compareStrings(s, t);
        }
        if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof PyTuple) == (b instanceof PyTuple)) {
            int n = Math.min(x.size(), y.size());
            for (int i = 0; i < n; i++) {
                if (!eq(x.get(i), y.get(i))) {
                    return compare(x.get(i), y.get(i), op);
                }
            }
            return Integer.compare(x.size(), y.size());
        }
        checkUndefined(a);
        checkUndefined(b);
        throw typeError("'" + op + "' not supported between instances of '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    static int compareStrings(String s, String t) {
        int n = Math.min(s.length(), t.length());
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            char d = t.charAt(i);
            if (c != d) {
                if (Character.isSurrogate(c) || Character.isSurrogate(d)) {
                    return Integer.compare(s.codePointAt(i), t.codePointAt(i));
                }
                return Character.compare(c, d);
            }
        }
        return Integer.compare(s.length(), t.length());
    }

    /** Python's {@code item in container}. */
    static boolean contains(Object container, Object item) {
        if (container instanceof Markup || item instanceof Markup) {
            return contains(Markup.plain(container), Markup.plain(item));
        }
        switch (container) {
            case String s -> {
                if (item instanceof String t) {
                    return s.contains(t);
                }
                throw typeError("'in <string>' requires string as left operand, not " + typeName(item));
            }
            case Map<?, ?> m -> {
                if (item instanceof String || item == null || item instanceof Boolean) {
                    return mapHas(m, item);
                }
                for (Object k : m.keySet()) {
                    if (eq(k, item)) {
                        return true;
                    }
                }
                return false;
            }
            case Undefined u -> {
                return false;
            }
            case Namespace n -> throw typeError("argument of type 'Namespace' is not iterable");
            case null -> throw typeError("argument of type 'NoneType' is not iterable");
            default -> {
                for (Object o : iterate(container)) {
                    if (eq(o, item)) {
                        return true;
                    }
                }
                return false;
            }
        }
    }

    // ---- iteration / length ----

    @SuppressWarnings("unchecked")
    static Iterable<Object> iterate(Object o) {
        if (o instanceof Markup m) {
            return iterate(m.text());
        }
        return switch (o) {
            case List<?> l -> (List<Object>) l;
            case Map<?, ?> m -> (Iterable<Object>) (Iterable<?>) m.keySet();
            case String s -> () -> new Iterator<>() {
                int i;

                @Override
                public boolean hasNext() {
                    return i < s.length();
                }

                @Override
                public Object next() {
                    int c = s.codePointAt(i);
                    i += Character.charCount(c);
                    return Character.toString(c);
                }
            };
            case PyGenerator g -> g;
            case Undefined u -> List.of();
            case null, default -> throw typeError("'" + typeName(o) + "' object is not iterable");
        };
    }

    static List<Object> toList(Object o) {
        if (o instanceof List<?> l && !(o instanceof PyTuple)) {
            return new ArrayList<>(l);
        }
        List<Object> out = new ArrayList<>();
        for (Object x : iterate(o)) {
            out.add(x);
        }
        return out;
    }

    /** A list view for read-only use; copies only when the value is not already a list. */
    @SuppressWarnings("unchecked")
    static List<Object> asList(Object o) {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        return toList(o);
    }

    static long len(Object o) {
        return switch (o) {
            case String s -> PyStr.length(s);
            case Markup m -> PyStr.length(m.text());
            case Collection<?> c -> c.size();
            case Map<?, ?> m -> m.size();
            case Undefined u -> 0;
            case null, default -> throw typeError("object of type '" + typeName(o) + "' has no len()");
        };
    }

    // ---- attribute and item access (sandboxed) ----

    /** {@code obj.name}: Python attribute first (methods), then item, as Jinja2's getattr. */
    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) {
            throw u.fail();
        }
        if (obj instanceof Markup m && !name.startsWith("_")) {
            return getattr(m.text(), name);
        }
        if (name.startsWith("_")) {
            return Undefined.unsafe(obj, name);
        }
        switch (obj) {
            case Map<?, ?> m -> {
                if (DICT_METHODS.contains(name)) {
                    return new BoundMethod(m, name);
                }
                if (DICT_UNSAFE.contains(name)) {
                    return Undefined.unsafe(m, name);
                }
                Object v = m.get(name);
                return v != null || m.containsKey(name) ? v : Undefined.member(obj, name);
            }
            case String s -> {
                return STR_METHODS.contains(name) ? new BoundMethod(s, name) : Undefined.member(obj, name);
            }
            case List<?> l -> {
                if (obj instanceof Groupby.Group g) {
                    return g.attr(name);
                }
                if (obj instanceof DictView) {
                    return Undefined.member(obj, name);
                }
                if (LIST_METHODS.contains(name) || (obj instanceof PyTuple && (name.equals("index")
                        || name.equals("count")))) {
                    return new BoundMethod(l, name);
                }
                if (LIST_UNSAFE.contains(name) && !(obj instanceof PyTuple)) {
                    return Undefined.unsafe(l, name);
                }
                return Undefined.member(obj, name);
            }
            case Namespace n -> {
                Object v = n.attrs.get(name);
                return v != null || n.attrs.containsKey(name) ? v : Undefined.member(obj, name);
            }
            case LoopContext l -> {
                return l.attr(name);
            }
            case Cycler c -> {
                return c.attr(name);
            }
            case Undefined u -> throw u.fail();
            case null, default -> {
                return Undefined.member(obj, name);
            }
        }
    }

    /** {@code Map.get} that tolerates maps refusing null keys ({@code Map.of}). */
    static Object mapGet(Map<?, ?> m, Object key) {
        try {
            return m.get(key);
        } catch (NullPointerException | ClassCastException e) {
            return null;
        }
    }

    static boolean mapHas(Map<?, ?> m, Object key) {
        try {
            return m.containsKey(key);
        } catch (NullPointerException | ClassCastException e) {
            return false;
        }
    }

    /** {@code obj[key]}: item first, then attribute for string keys, as Jinja2's getitem. */
    static Object getitem(Object obj, Object key) {
        if (obj instanceof Markup m) {
            return getitem(m.text(), key);
        }
        if (obj instanceof DictView) {
            return Undefined.member(obj, key); // Jinja's getitem turns the TypeError into Undefined
        }
        switch (obj) {
            case Map<?, ?> m -> {
                Object v = mapGet(m, key);
                if (v != null || mapHas(m, key)) {
                    return v;
                }
                if (key instanceof Long || key instanceof Boolean || key instanceof Double) {
                    for (Map.Entry<?, ?> e : m.entrySet()) {
                        if (isNumber(e.getKey()) && eq(e.getKey(), key)) {
                            return e.getValue();
                        }
                    }
                }
                break;
            }
            case List<?> l -> {
                if (isInt(key)) {
                    long i = asLong(key);
                    if (i < 0) {
                        i += l.size();
                    }
                    return i >= 0 && i < l.size() ? l.get((int) i) : Undefined.member(obj, key);
                }
            }
            case String s -> {
                if (isInt(key)) {
                    long n = PyStr.length(s);
                    long i = asLong(key);
                    if (i < 0) {
                        i += n;
                    }
                    if (i >= 0 && i < n) {
                        int off = PyStr.offset(s, (int) i);
                        return Character.toString(s.codePointAt(off));
                    }
                    return Undefined.member(obj, key);
                }
            }
            case Undefined u -> throw u.fail();
            case null, default -> { }
        }
        if (key instanceof String name) {
            return getattr(obj, name);
        }
        return Undefined.member(obj, key);
    }

    /** Python slicing {@code obj[start:stop:step]} of lists, tuples and strings. */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        checkUndefined(obj);
        if (obj instanceof Markup m) {
            obj = m.text();
        }
        long st = step == null ? 1 : sliceIndex(step);
        if (st == 0) {
            throw new TemplateException("ValueError", "slice step cannot be zero");
        }
        if (obj instanceof String s) {
            boolean sur = PyStr.hasSurrogates(s);
            int[] cps = sur ? s.codePoints().toArray() : null;
            int n = sur ? cps.length : s.length();
            long[] r = sliceRange(n, start, stop, st);
            StringBuilder sb = new StringBuilder();
            for (long i = r[0]; st > 0 ? i < r[1] : i > r[1]; i += st) {
                if (sur) {
                    sb.appendCodePoint(cps[(int) i]);
                } else {
                    sb.append(s.charAt((int) i));
                }
            }
            return sb.toString();
        }
        if (obj instanceof List<?> l) {
            long[] r = sliceRange(l.size(), start, stop, st);
            List<Object> out = new ArrayList<>();
            for (long i = r[0]; st > 0 ? i < r[1] : i > r[1]; i += st) {
                out.add(l.get((int) i));
            }
            return obj instanceof PyTuple ? PyTuple.of(out) : out;
        }
        // slices bypass Jinja's getitem, so Python's TypeError reaches the template
        if (obj instanceof Map) {
            throw typeError("unhashable type: 'slice'");
        }
        throw typeError("'" + typeName(obj) + "' object is not subscriptable");
    }

    private static long sliceIndex(Object o) {
        if (isInt(o)) {
            return asLong(o);
        }
        checkUndefined(o);
        throw typeError("slice indices must be integers or None or have an __index__ method");
    }

    private static long[] sliceRange(int n, Object start, Object stop, long step) {
        long lo;
        long hi;
        if (step > 0) {
            lo = start == null ? 0 : clamp(sliceIndex(start), n, 0, n);
            hi = stop == null ? n : clamp(sliceIndex(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clamp(sliceIndex(start), n, -1, n - 1);
            hi = stop == null ? -1 : clamp(sliceIndex(stop), n, -1, n - 1);
        }
        return new long[] {lo, hi};
    }

    private static long clamp(long i, int n, long min, long max) {
        if (i < 0) {
            i += n;
        }
        return Math.max(min, Math.min(max, i));
    }
}
