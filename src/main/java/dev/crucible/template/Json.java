package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Python's {@code json.dumps} (as transformers' tojson calls it) and JSON → template value conversion. */
final class Json {
    private Json() {
    }

    /** Converts parsed JSON into template values (dicts keep key order, integers become Long). */
    static Object fromJson(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return null;
        }
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isIntegralNumber()) {
            return n.canConvertToLong() ? (Object) n.longValue() : (Object) n.doubleValue();
        }
        if (n.isNumber()) {
            return n.doubleValue();
        }
        if (n.isArray()) {
            List<Object> l = new ArrayList<>(n.size());
            for (JsonNode c : n) {
                l.add(fromJson(c));
            }
            return l;
        }
        Map<Object, Object> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            m.put(e.getKey(), fromJson(e.getValue()));
        }
        return m;
    }

    static String dumps(Object v, boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
        String ind = switch (indent) {
            case null -> null;
            case String s -> s;
            default -> " ".repeat((int) Math.max(0, Bind.toLong(indent, "indent")));
        };
        String itemSep = ind == null ? ", " : ",";
        String keySep = ": ";
        if (separators != null) {
            List<Object> seps = Py.asList(separators);
            if (seps.size() != 2) {
                throw new TemplateException("ValueError", "separators must be a (item_separator, key_separator) pair");
            }
            itemSep = Bind.toStr(seps.get(0), "item separator");
            keySep = Bind.toStr(seps.get(1), "key separator");
        }
        StringBuilder sb = new StringBuilder();
        new Writer(sb, ensureAscii, ind, itemSep, keySep, sortKeys).write(v, 0);
        return sb.toString();
    }

    private record Writer(StringBuilder sb, boolean ascii, String indent, String itemSep, String keySep,
                          boolean sortKeys) {
        void write(Object v, int level) {
            if (level > 200) {
                throw new TemplateException("ValueError", "Circular reference detected");
            }
            switch (v) {
                case null -> sb.append("null");
                case Boolean b -> sb.append(b ? "true" : "false");
                case Long l -> sb.append(l);
                case Double d -> sb.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d)
                        ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d));
                case String s -> string(s);
                case Markup m -> string(m.text());
                case DictView dv -> throw Py.typeError("Object of type " + dv.kind() + " is not JSON serializable");
                case PyRange r -> throw Py.typeError("Object of type range is not JSON serializable");
                case List<?> l -> {
                    if (l.isEmpty()) {
                        sb.append("[]");
                        return;
                    }
                    sb.append('[');
                    for (int i = 0; i < l.size(); i++) {
                        if (i > 0) {
                            sb.append(itemSep);
                        }
                        newline(level + 1);
                        write(l.get(i), level + 1);
                    }
                    newline(level);
                    sb.append(']');
                }
                case Map<?, ?> m -> {
                    if (m.isEmpty()) {
                        sb.append("{}");
                        return;
                    }
                    List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
                    if (sortKeys) {
                        entries.sort((a, b) -> Py.compare(a.getKey(), b.getKey(), "<"));
                    }
                    sb.append('{');
                    boolean first = true;
                    for (Map.Entry<?, ?> e : entries) {
                        if (!first) {
                            sb.append(itemSep);
                        }
                        first = false;
                        newline(level + 1);
                        string(key(e.getKey()));
                        sb.append(keySep);
                        write(e.getValue(), level + 1);
                    }
                    newline(level);
                    sb.append('}');
                }
                default -> throw Py.typeError("Object of type " + Py.typeName(v) + " is not JSON serializable");
            }
        }

        private String key(Object k) {
            return switch (k) {
                case String s -> s;
                case null -> "null";
                case Boolean b -> b ? "true" : "false";
                case Long l -> l.toString();
                case Double d -> Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity")
                        : Py.floatRepr(d);
                default -> throw Py.typeError("keys must be str, int, float, bool or None, not " + Py.typeName(k));
            };
        }

        private void newline(int level) {
            if (indent != null) {
                sb.append('\n');
                for (int i = 0; i < level; i++) {
                    sb.append(indent);
                }
            }
        }

        private void string(String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        if (c < 0x20 || (ascii && c > 0x7e)) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }
    }
}
