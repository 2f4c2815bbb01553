package dev.crucible.eval.tasks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code ast.literal_eval} for what rendered task templates produce: strings (single, double and triple
 * quoted, with escapes and {@code r}/{@code u}/{@code b} prefixes, adjacent literals joined), integers, floats,
 * {@code True}/{@code False}/{@code None}, lists, tuples (as lists), sets (as lists) and dicts, with unary minus.
 * Anything else is an {@link IllegalArgumentException} (Python's ValueError or SyntaxError).
 */
final class PythonLiteral {
    private final String s;
    private int i;

    private PythonLiteral(String s) {
        this.s = s;
    }

    static Object parse(String text) {
        PythonLiteral p = new PythonLiteral(text);
        p.skipSpace();
        Object v = p.value();
        p.skipSpace();
        if (p.i != text.length()) {
            throw new IllegalArgumentException("not a Python literal: " + abbreviate(text));
        }
        return v;
    }

    private static String abbreviate(String t) {
        return t.length() > 80 ? t.substring(0, 77) + "..." : t;
    }

    private void skipSpace() {
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n' || s.charAt(i) == '\r'
                || s.charAt(i) == '\f' || s.charAt(i) == '\\' && i + 1 < s.length() && s.charAt(i + 1) == '\n')) {
            i += s.charAt(i) == '\\' ? 2 : 1;
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at character " + i + " of " + abbreviate(s));
    }

    private Object value() {
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        char c = s.charAt(i);
        if (c == '[') {
            return sequence(']');
        }
        if (c == '(') {
            return sequence(')');
        }
        if (c == '{') {
            return braces();
        }
        if (c == '-' || c == '+') {
            i++;
            skipSpace();
            Object v = value();
            if (v instanceof Long l) {
                return c == '-' ? -l : l;
            }
            if (v instanceof Double d) {
                return c == '-' ? -d : d;
            }
            throw error("unary " + c + " on a non-number");
        }
        if (Character.isDigit(c) || c == '.' && i + 1 < s.length() && Character.isDigit(s.charAt(i + 1))) {
            return number();
        }
        if (isStringStart()) {
            StringBuilder sb = new StringBuilder();
            do {
                sb.append(string());
                skipSpace();
            } while (i < s.length() && isStringStart());
            return sb.toString();
        }
        for (String word : new String[] {"True", "False", "None"}) {
            if (s.startsWith(word, i) && (i + word.length() == s.length() || !Character.isJavaIdentifierPart(s.charAt(i + word.length())))) {
                i += word.length();
                return word.equals("None") ? null : Boolean.valueOf(word.equals("True"));
            }
        }
        throw error("malformed node or string");
    }

    private boolean isStringStart() {
        int j = i;
        while (j < s.length() && j - i < 2 && "rRuUbB".indexOf(s.charAt(j)) >= 0) {
            j++;
        }
        return j < s.length() && (s.charAt(j) == '\'' || s.charAt(j) == '"');
    }

    /** A list or tuple (tuples become lists); {@code (x)} without a comma is just x, as in Python. */
    private Object sequence(char close) {
        i++;
        List<Object> out = new ArrayList<>();
        boolean comma = false;
        skipSpace();
        while (true) {
            if (i < s.length() && s.charAt(i) == close) {
                i++;
                return close == ')' && out.size() == 1 && !comma ? out.getFirst() : out;
            }
            out.add(value());
            skipSpace();
            if (i < s.length() && s.charAt(i) == ',') {
                comma = true;
                i++;
                skipSpace();
            } else if (i >= s.length() || s.charAt(i) != close) {
                throw error("expected ',' or '" + close + "'");
            }
        }
    }

    private Object braces() {
        i++;
        skipSpace();
        Map<Object, Object> dict = new LinkedHashMap<>();
        List<Object> set = new ArrayList<>();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return dict;
        }
        while (true) {
            Object k = value();
            skipSpace();
            if (i < s.length() && s.charAt(i) == ':') {
                i++;
                skipSpace();
                dict.put(k, value());
            } else {
                set.add(k);
            }
            skipSpace();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
                skipSpace();
                if (i < s.length() && s.charAt(i) == '}') {
                    i++;
                    break;
                }
            } else if (i < s.length() && s.charAt(i) == '}') {
                i++;
                break;
            } else {
                throw error("expected ',' or '}'");
            }
        }
        if (!set.isEmpty()) {
            return set;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        dict.forEach((k, v) -> out.put(dev.crucible.model.template.PythonValues.str(k), v));
        return out;
    }

    private Object number() {
        int start = i;
        if (s.startsWith("0x", i) || s.startsWith("0X", i) || s.startsWith("0o", i) || s.startsWith("0O", i)
                || s.startsWith("0b", i) || s.startsWith("0B", i)) {
            int radix = switch (Character.toLowerCase(s.charAt(i + 1))) {
                case 'x' -> 16;
                case 'o' -> 8;
                default -> 2;
            };
            i += 2;
            while (i < s.length() && (Character.digit(s.charAt(i), radix) >= 0 || s.charAt(i) == '_')) {
                i++;
            }
            return Long.parseLong(s.substring(start + 2, i).replace("_", ""), radix);
        }
        boolean isFloat = false;
        while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '_')) {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '.') {
            isFloat = true;
            i++;
            while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                i++;
            }
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            isFloat = true;
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
        }
        String t = s.substring(start, i).replace("_", "");
        return isFloat ? (Object) Double.parseDouble(t) : (Object) Long.parseLong(t);
    }

    private String string() {
        boolean raw = false;
        while ("rRuUbB".indexOf(s.charAt(i)) >= 0) {
            raw |= s.charAt(i) == 'r' || s.charAt(i) == 'R';
            i++;
        }
        char q = s.charAt(i);
        boolean triple = s.startsWith(String.valueOf(q).repeat(3), i);
        i += triple ? 3 : 1;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw error("unterminated string literal");
            }
            char c = s.charAt(i);
            if (triple ? s.startsWith(String.valueOf(q).repeat(3), i) : c == q) {
                i += triple ? 3 : 1;
                return sb.toString();
            }
            if (!triple && c == '\n') {
                throw error("unterminated string literal");
            }
            if (c == '\\' && i + 1 < s.length()) {
                if (raw) {
                    sb.append(c).append(s.charAt(i + 1));
                    i += 2;
                    continue;
                }
                i++;
                escape(sb);
                continue;
            }
            sb.append(c);
            i++;
        }
    }

    private void escape(StringBuilder sb) {
        char e = s.charAt(i++);
        switch (e) {
            case '\n' -> { }
            case '\\' -> sb.append('\\');
            case '\'' -> sb.append('\'');
            case '"' -> sb.append('"');
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'v' -> sb.append('\u000b');
            case 'x' -> sb.appendCodePoint(hex(2));
            case 'u' -> sb.appendCodePoint(hex(4));
            case 'U' -> sb.appendCodePoint(hex(8));
            default -> {
                if (e >= '0' && e <= '7') {
                    int v = e - '0';
                    for (int k = 0; k < 2 && i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '7'; k++) {
                        v = v * 8 + s.charAt(i++) - '0';
                    }
                    sb.appendCodePoint(v);
                } else {
                    sb.append('\\').append(e);
                }
            }
        }
    }

    private int hex(int n) {
        if (i + n > s.length()) {
            throw error("truncated escape");
        }
        int v = Integer.parseInt(s.substring(i, i + n), 16);
        i += n;
        return v;
    }
}
