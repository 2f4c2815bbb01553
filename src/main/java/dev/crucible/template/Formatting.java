package dev.crucible.template;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/** Python's {@code %}-formatting and {@code str.format} for the common conversions. */
final class Formatting {
    private Formatting() {
    }

    /** {@code fmt % args}: args is a tuple, a mapping (for %(name)s) or a single value. */
    static String percent(String fmt, Object args) {
        List<?> tuple = args instanceof PyTuple t ? t : null;
        int argi = 0;
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i++);
            if (c != '%') {
                sb.append(c);
                continue;
            }
            if (i >= fmt.length()) {
                throw new TemplateException("ValueError", "incomplete format");
            }
            Object value = null;
            boolean named = false;
            if (fmt.charAt(i) == '(') {
                int close = fmt.indexOf(')', i);
                if (close < 0 || !(args instanceof Map<?, ?> m)) {
                    throw Py.typeError("format requires a mapping");
                }
                value = Py.getitem(m, fmt.substring(i + 1, close));
                named = true;
                i = close + 1;
            }
            StringBuilder flags = new StringBuilder();
            while (i < fmt.length() && "-+ 0#".indexOf(fmt.charAt(i)) >= 0) {
                flags.append(fmt.charAt(i++));
            }
            int width = -1;
            int ws = i;
            while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) {
                i++;
            }
            if (i > ws) {
                width = Integer.parseInt(fmt.substring(ws, i));
            }
            int prec = -1;
            if (i < fmt.length() && fmt.charAt(i) == '.') {
                int ps = ++i;
                while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) {
                    i++;
                }
                prec = i > ps ? Integer.parseInt(fmt.substring(ps, i)) : 0;
            }
            char conv = fmt.charAt(i++);
            if (conv == '%') {
                sb.append('%');
                continue;
            }
            if (!named) {
                if (tuple != null) {
                    if (argi >= tuple.size()) {
                        throw Py.typeError("not enough arguments for format string");
                    }
                    value = tuple.get(argi++);
                } else {
                    if (argi++ > 0) {
                        throw Py.typeError("not enough arguments for format string");
                    }
                    value = args;
                }
            }
            String body = switch (conv) {
                case 's' -> prec >= 0 ? truncate(Py.str(value), prec) : Py.str(value);
                case 'r', 'a' -> Py.repr(value);
                case 'd', 'i', 'u' -> Long.toString(intOf(value, conv));
                case 'x' -> Long.toHexString(intOf(value, conv));
                case 'X' -> Long.toHexString(intOf(value, conv)).toUpperCase();
                case 'o' -> Long.toOctalString(intOf(value, conv));
                case 'f', 'F' -> fixed(floatOf(value, conv), prec < 0 ? 6 : prec);
                case 'e', 'E' -> String.format("%." + (prec < 0 ? 6 : prec) + (conv == 'e' ? "e" : "E"), floatOf(value, conv));
                case 'g', 'G' -> Py.floatRepr(floatOf(value, conv));
                case 'c' -> value instanceof String s ? s : Character.toString((int) intOf(value, conv));
                default -> throw new TemplateException("ValueError", "unsupported format character '" + conv + "'");
            };
            if (flags.indexOf("+") >= 0 && "dfiFeEgG".indexOf(conv) >= 0 && !body.startsWith("-")) {
                body = "+" + body;
            }
            sb.append(pad(body, width, flags.indexOf("-") >= 0, flags.indexOf("0") >= 0 && "sr".indexOf(conv) < 0));
        }
        if (tuple != null && argi < tuple.size()) {
            throw Py.typeError("not all arguments converted during string formatting");
        }
        return sb.toString();
    }

    private static String truncate(String s, int n) {
        return PyStr.length(s) <= n ? s : s.substring(0, PyStr.offset(s, n));
    }

    static String fixed(double d, int prec) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return Py.floatRepr(d);
        }
        return new BigDecimal(d).setScale(prec, RoundingMode.HALF_EVEN).toPlainString();
    }

    private static String pad(String body, int width, boolean left, boolean zero) {
        int n = (int) PyStr.length(body);
        if (width <= n) {
            return body;
        }
        if (left) {
            return body + " ".repeat(width - n);
        }
        if (zero) {
            int sign = body.startsWith("-") || body.startsWith("+") ? 1 : 0;
            return body.substring(0, sign) + "0".repeat(width - n) + body.substring(sign);
        }
        return " ".repeat(width - n) + body;
    }

    private static long intOf(Object v, char conv) {
        if (Py.isInt(v)) {
            return Py.asLong(v);
        }
        if (v instanceof Double d) {
            return (long) (double) d;
        }
        throw Py.typeError("%" + conv + " format: a real number is required, not " + Py.typeName(v));
    }

    private static double floatOf(Object v, char conv) {
        if (Py.isNumber(v)) {
            return Py.asDouble(v);
        }
        throw Py.typeError("must be real number, not " + Py.typeName(v));
    }

    /** {@code str.format(*args, **kwargs)} with {}, {0}, {name}, attribute/index access and simple specs. */
    static String format(String fmt, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i);
            if (c == '{') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                    sb.append('{');
                    i += 2;
                    continue;
                }
                int close = fmt.indexOf('}', i);
                if (close < 0) {
                    throw new TemplateException("ValueError", "Single '{' encountered in format string");
                }
                String field = fmt.substring(i + 1, close);
                String spec = "";
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                boolean repr = field.endsWith("!r");
                if (repr || field.endsWith("!s")) {
                    field = field.substring(0, field.length() - 2);
                }
                String head = field.split("[.\\[]", 2)[0];
                Object v;
                if (head.isEmpty()) {
                    if (auto >= args.size()) {
                        throw new TemplateException("IndexError", "Replacement index " + auto + " out of range");
                    }
                    v = args.get(auto++);
                } else if (head.chars().allMatch(Character::isDigit)) {
                    int idx = Integer.parseInt(head);
                    if (idx >= args.size()) {
                        throw new TemplateException("IndexError", "Replacement index " + idx + " out of range");
                    }
                    v = args.get(idx);
                } else {
                    if (!kwargs.containsKey(head)) {
                        throw new TemplateException("KeyError", PyStr.repr(head));
                    }
                    v = kwargs.get(head);
                }
                String rest = field.substring(head.length());
                while (!rest.isEmpty()) {
                    if (rest.startsWith(".")) {
                        int end = indexOfAny(rest, 1);
                        v = Py.getattr(v, rest.substring(1, end));
                        rest = rest.substring(end);
                    } else {
                        int end = rest.indexOf(']');
                        String key = rest.substring(1, end);
                        v = Py.getitem(v, key.chars().allMatch(Character::isDigit) ? (Object) Long.parseLong(key) : key);
                        rest = rest.substring(end + 1);
                    }
                }
                sb.append(applySpec(repr ? Py.repr(v) : v, spec));
                i = close + 1;
            } else if (c == '}') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') {
                    sb.append('}');
                    i += 2;
                    continue;
                }
                throw new TemplateException("ValueError", "Single '}' encountered in format string");
            } else {
                sb.append(c);
                i++;
            }
        }
        return sb.toString();
    }

    private static int indexOfAny(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) == '.' || s.charAt(i) == '[') {
                return i;
            }
        }
        return s.length();
    }

    private static String applySpec(Object v, String spec) {
        if (spec.isEmpty()) {
            return Py.str(v);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?:(.)?([<>^=]))?([+\\- ])?(0)?(\\d+)?(,)?(?:\\.(\\d+))?([sdfeEgG%xXob])?").matcher(spec);
        if (!m.matches()) {
            throw new TemplateException("ValueError", "Invalid format specifier '" + spec + "'");
        }
        String fill = m.group(1) == null ? (m.group(4) != null ? "0" : " ") : m.group(1);
        String align = m.group(2);
        int width = m.group(5) == null ? 0 : Integer.parseInt(m.group(5));
        int prec = m.group(7) == null ? -1 : Integer.parseInt(m.group(7));
        String type = m.group(8);
        String body;
        if (type == null || type.equals("s")) {
            body = v instanceof Double d && prec >= 0 ? fixed(d, prec) : Py.str(v);
            if (v instanceof String s && prec >= 0) {
                body = truncate(s, prec);
            }
        } else {
            body = switch (type) {
                case "d" -> Long.toString(intOf(v, 'd'));
                case "f" -> fixed(floatOf(v, 'f'), prec < 0 ? 6 : prec);
                case "%" -> fixed(floatOf(v, 'f') * 100, prec < 0 ? 6 : prec) + "%";
                case "x" -> Long.toHexString(intOf(v, 'x'));
                case "X" -> Long.toHexString(intOf(v, 'X')).toUpperCase();
                case "o" -> Long.toOctalString(intOf(v, 'o'));
                case "b" -> Long.toBinaryString(intOf(v, 'b'));
                default -> Py.floatRepr(floatOf(v, 'g'));
            };
            if ("+".equals(m.group(3)) && !body.startsWith("-")) {
                body = "+" + body;
            }
        }
        int n = (int) PyStr.length(body);
        if (n >= width) {
            return body;
        }
        int padn = width - n;
        String a = align != null ? align : (v instanceof String || type == null && !Py.isNumber(v) ? "<" : ">");
        return switch (a) {
            case "<" -> body + fill.repeat(padn);
            case "^" -> fill.repeat(padn / 2) + body + fill.repeat(padn - padn / 2);
            default -> fill.repeat(padn) + body;
        };
    }
}
