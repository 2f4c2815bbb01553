package dev.crucible.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.crucible.template.Bind.REQUIRED;
import static dev.crucible.template.Bind.bind;

/** The str, list and dict methods Jinja2's immutable sandbox lets a template call. */
final class Methods {
    private Methods() {
    }

    static Object call(Interp in, Object receiver, String name, List<Object> a, Map<String, Object> k) {
        return switch (receiver) {
            case String s -> str(in, s, name, a, k);
            case Markup m -> str(in, m.text(), name, a, k);
            case Map<?, ?> m -> dict(m, name, a, k);
            case List<?> l -> list(l, name, a, k);
            default -> throw Py.typeError("'" + Py.typeName(receiver) + "' object has no attribute '" + name + "'");
        };
    }

    private static String optChars(Object o) {
        return o == null ? null : Bind.toStr(o, "chars");
    }

    private static Object str(Interp in, String s, String name, List<Object> a, Map<String, Object> k) {
        String fn = "str." + name;
        switch (name) {
            case "strip", "lstrip", "rstrip" -> {
                String chars = optChars(bind(fn, a, Map.of(), new String[] {"chars"}, (Object) null)[0]);
                return name.equals("strip") ? PyStr.strip(s, chars)
                        : name.equals("lstrip") ? PyStr.lstrip(s, chars) : PyStr.rstrip(s, chars);
            }
            case "split", "rsplit" -> {
                Object[] p = bind(fn, a, k, new String[] {"sep", "maxsplit"}, null, -1L);
                String sep = p[0] == null ? null : Bind.toStr(p[0], "sep");
                long max = Bind.toLong(p[1], "maxsplit");
                return name.equals("split") ? PyStr.split(s, sep, max) : PyStr.rsplit(s, sep, max);
            }
            case "splitlines" -> {
                return PyStr.splitlines(s, Py.truthy(bind(fn, a, k, new String[] {"keepends"}, false)[0]));
            }
            case "startswith", "endswith" -> {
                Object[] p = bind(fn, a, Map.of(), new String[] {"prefix", "start", "end"}, REQUIRED, null, null);
                String sub = (String) Py.slice(s, p[1], p[2], null);
                List<Object> options = p[0] instanceof PyTuple t ? t : List.of(Bind.toStr(p[0], name + " arg"));
                for (Object o : options) {
                    String x = Bind.toStr(o, name + " arg");
                    if (name.equals("startswith") ? sub.startsWith(x) : sub.endsWith(x)) {
                        return true;
                    }
                }
                return false;
            }
            case "replace" -> {
                Object[] p = bind(fn, a, k, new String[] {"old", "new", "count"}, REQUIRED, REQUIRED, -1L);
                String r = PyStr.replace(s, Bind.toStr(p[0], "old"), Bind.toStr(p[1], "new"), Bind.toLong(p[2], "count"));
                in.checkSize(r.length());
                return r;
            }
            case "upper" -> {
                return PyStr.upper(s);
            }
            case "lower" -> {
                return PyStr.lower(s);
            }
            case "casefold" -> {
                return PyStr.casefold(s);
            }
            case "title" -> {
                return PyStr.title(s);
            }
            case "capitalize" -> {
                return PyStr.capitalize(s);
            }
            case "swapcase" -> {
                return PyStr.swapcase(s);
            }
            case "find", "rfind", "index", "rindex" -> {
                Object[] p = bind(fn, a, Map.of(), new String[] {"sub", "start", "end"}, REQUIRED, null, null);
                String sub = Bind.toStr(p[0], "sub");
                long start = p[1] == null ? 0 : norm(Bind.toLong(p[1], "start"), PyStr.length(s));
                long end = p[2] == null ? PyStr.length(s) : norm(Bind.toLong(p[2], "end"), PyStr.length(s));
                String hay = (String) Py.slice(s, start, end, null);
                int at = name.startsWith("r") ? hay.lastIndexOf(sub) : hay.indexOf(sub);
                if (at < 0 || start > PyStr.length(s)) {
                    if (name.endsWith("index")) {
                        throw new TemplateException("ValueError", "substring not found");
                    }
                    return -1L;
                }
                return start + PyStr.cpIndex(hay, at);
            }
            case "count" -> {
                return PyStr.count(s, Bind.toStr(bind(fn, a, Map.of(), new String[] {"sub"}, REQUIRED)[0], "sub"));
            }
            case "join" -> {
                Object it = bind(fn, a, Map.of(), new String[] {"iterable"}, REQUIRED)[0];
                StringBuilder sb = new StringBuilder();
                boolean first = true;
                for (Object o : Py.iterate(it)) {
                    if (!first) {
                        sb.append(s);
                    }
                    first = false;
                    if (!(o instanceof String x)) {
                        throw Py.typeError("sequence item: expected str instance, " + Py.typeName(o) + " found");
                    }
                    sb.append(x);
                    in.checkSize(sb.length());
                }
                return sb.toString();
            }
            case "format" -> {
                return Formatting.format(s, a, k);
            }
            case "center", "ljust", "rjust" -> {
                Object[] p = bind(fn, a, Map.of(), new String[] {"width", "fillchar"}, REQUIRED, " ");
                int w = (int) Bind.toLong(p[0], "width");
                String fill = Bind.toStr(p[1], "fillchar");
                int n = (int) PyStr.length(s);
                if (w <= n) {
                    return s;
                }
                return name.equals("center") ? PyStr.center(s, w, fill)
                        : name.equals("ljust") ? s + fill.repeat(w - n) : fill.repeat(w - n) + s;
            }
            case "zfill" -> {
                int w = (int) Bind.toLong(bind(fn, a, Map.of(), new String[] {"width"}, REQUIRED)[0], "width");
                int n = (int) PyStr.length(s);
                if (w <= n) {
                    return s;
                }
                int sign = s.startsWith("-") || s.startsWith("+") ? 1 : 0;
                return s.substring(0, sign) + "0".repeat(w - n) + s.substring(sign);
            }
            case "partition", "rpartition" -> {
                String sep = Bind.toStr(bind(fn, a, Map.of(), new String[] {"sep"}, REQUIRED)[0], "sep");
                int at = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (at < 0) {
                    return name.equals("partition") ? new PyTuple(s, "", "") : new PyTuple("", "", s);
                }
                return new PyTuple(s.substring(0, at), sep, s.substring(at + sep.length()));
            }
            case "removeprefix" -> {
                String p = Bind.toStr(bind(fn, a, Map.of(), new String[] {"prefix"}, REQUIRED)[0], "prefix");
                return s.startsWith(p) ? s.substring(p.length()) : s;
            }
            case "removesuffix" -> {
                String p = Bind.toStr(bind(fn, a, Map.of(), new String[] {"suffix"}, REQUIRED)[0], "suffix");
                return s.endsWith(p) && !p.isEmpty() ? s.substring(0, s.length() - p.length()) : s;
            }
            case "expandtabs" -> {
                Object[] p = bind(fn, a, k, new String[] {"tabsize"}, 8L);
                return PyStr.expandtabs(s, (int) Bind.toLong(p[0], "tabsize"));
            }
            case "isdigit", "isnumeric", "isdecimal" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            }
            case "isalpha" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            }
            case "isalnum" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            }
            case "isspace" -> {
                return !s.isEmpty() && s.codePoints().allMatch(PyStr::isSpace);
            }
            case "isupper" -> {
                return PyStr.isUpperStr(s);
            }
            case "islower" -> {
                return PyStr.isLowerStr(s);
            }
            case "istitle" -> {
                return !s.isEmpty() && PyStr.title(s).equals(s) && !PyStr.lower(s).equals(s);
            }
            default -> throw Py.typeError("'str' object has no attribute '" + name + "'");
        }
    }

    private static long norm(long i, long n) {
        return i < 0 ? Math.max(0, i + n) : i;
    }

    private static Object dict(Map<?, ?> m, String name, List<Object> a, Map<String, Object> k) {
        String fn = "dict." + name;
        switch (name) {
            case "get" -> {
                Object[] p = bind(fn, a, Map.of(), new String[] {"key", "default"}, REQUIRED, null);
                Object v = Py.mapGet(m, p[0]);
                if (v == null && !Py.mapHas(m, p[0])) {
                    Object viaGetitem = Py.isNumber(p[0]) ? Py.getitem(m, p[0]) : Undefined.PLAIN;
                    return viaGetitem instanceof Undefined ? p[1] : viaGetitem;
                }
                return v;
            }
            case "items" -> {
                bind(fn, a, k, new String[0]);
                List<Object> out = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    out.add(new PyTuple(e.getKey(), e.getValue()));
                }
                return new DictView("dict_items", out);
            }
            case "keys" -> {
                bind(fn, a, k, new String[0]);
                return new DictView("dict_keys", new ArrayList<Object>(m.keySet()));
            }
            case "values" -> {
                bind(fn, a, k, new String[0]);
                return new DictView("dict_values", new ArrayList<Object>(m.values()));
            }
            case "copy" -> {
                return new LinkedHashMap<Object, Object>(m);
            }
            default -> throw Py.typeError("'dict' object has no attribute '" + name + "'");
        }
    }

    private static Object list(List<?> l, String name, List<Object> a, Map<String, Object> k) {
        String fn = "list." + name;
        switch (name) {
            case "index" -> {
                Object x = bind(fn, a, Map.of(), new String[] {"value"}, REQUIRED)[0];
                for (int i = 0; i < l.size(); i++) {
                    if (Py.eq(l.get(i), x)) {
                        return (long) i;
                    }
                }
                throw new TemplateException("ValueError", Py.repr(x) + " is not in list");
            }
            case "count" -> {
                Object x = bind(fn, a, Map.of(), new String[] {"value"}, REQUIRED)[0];
                long n = 0;
                for (Object o : l) {
                    if (Py.eq(o, x)) {
                        n++;
                    }
                }
                return n;
            }
            case "copy" -> {
                return new ArrayList<Object>(l);
            }
            default -> throw Py.typeError("'list' object has no attribute '" + name + "'");
        }
    }
}
