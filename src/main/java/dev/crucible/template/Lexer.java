package dev.crucible.template;

import dev.crucible.template.Token.Type;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a template into tokens with exactly Jinja2's whitespace rules: newline normalisation, the
 * single trailing newline dropped unless {@code keep_trailing_newline}, {@code -}/{@code +} tag modifiers,
 * {@code trim_blocks} (one newline after a block or comment tag) and {@code lstrip_blocks} (spaces before a
 * block or comment tag that starts a line), raw blocks, and brace balancing inside tags.
 */
final class Lexer {
    private final String src;
    private final TemplateOptions options;
    private final List<Token> out = new ArrayList<>();
    private int pos;

    private Lexer(String src, TemplateOptions options) {
        this.src = src;
        this.options = options;
    }

    static String normalize(String source, boolean keepTrailingNewline) {
        StringBuilder sb = new StringBuilder(source.length());
        for (int i = 0; i < source.length(); i++) {
            char c = source.charAt(i);
            if (c == '\r') {
                if (i + 1 < source.length() && source.charAt(i + 1) == '\n') {
                    i++;
                }
                sb.append('\n');
            } else {
                sb.append(c);
            }
        }
        if (!keepTrailingNewline && !sb.isEmpty() && sb.charAt(sb.length() - 1) == '\n') {
            sb.setLength(sb.length() - 1);
        }
        return sb.toString();
    }

    /** Tokenises an already {@link #normalize normalised} source. */
    static List<Token> tokenize(String normalized, TemplateOptions options) {
        Lexer lx = new Lexer(normalized, options);
        lx.run();
        return lx.out;
    }

    private TemplateException.Syntax error(String msg, int at) {
        return Parser.syntaxError(src, msg, at);
    }

    private void run() {
        int n = src.length();
        while (pos < n) {
            int tag = findTagStart(pos);
            if (tag < 0) {
                emitData(src.substring(pos), pos);
                pos = n;
                break;
            }
            char kind = src.charAt(tag + 1);
            int afterBegin = tag + 2;
            char sign = afterBegin < n ? src.charAt(afterBegin) : 0;
            boolean signed = sign == '-' || sign == '+';
            if (signed) {
                afterBegin++;
            }
            int rawEnd = kind == '%' ? matchRawBegin(afterBegin) : -1;
            String text = applyLeftWhitespace(src.substring(pos, tag), pos, signed ? sign : 0, kind != '{');
            emitData(text, pos);
            if (rawEnd >= 0) {
                pos = rawEnd;
                lexRaw(tag);
            } else if (kind == '#') {
                pos = lexComment(afterBegin, tag);
            } else {
                boolean block = kind == '%';
                out.add(new Token(block ? Type.BLOCK_BEGIN : Type.VAR_BEGIN, block ? "{%" : "{{", tag));
                pos = lexTag(afterBegin, block, tag);
            }
        }
        out.add(new Token(Type.EOF, "", n));
    }

    private int findTagStart(int from) {
        int i = src.indexOf('{', from);
        while (i >= 0 && i + 1 < src.length()) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
            i = src.indexOf('{', i + 1);
        }
        return -1;
    }

    /** The text before a tag after {@code -} (strip all trailing whitespace) or lstrip_blocks. */
    private String applyLeftWhitespace(String text, int textStart, char sign, boolean blockOrComment) {
        if (sign == '-') {
            return PyStr.rstrip(text, null);
        }
        if (sign != '+' && options.lstripBlocks() && blockOrComment) {
            int lpos = text.lastIndexOf('\n') + 1;
            boolean lineStarting = textStart == 0 || src.charAt(textStart - 1) == '\n';
            if ((lpos > 0 || lineStarting) && lpos < text.length() && PyStr.isAllSpace(text, lpos)) {
                return text.substring(0, lpos);
            }
        }
        return text;
    }

    private void emitData(String text, int at) {
        if (!text.isEmpty()) {
            out.add(new Token(Type.DATA, text, at));
        }
    }

    /** {@code {% raw %}}: returns the offset after the begin tag, or -1 if this is not a raw tag. */
    private int matchRawBegin(int i) {
        i = skipSpace(i);
        if (!src.startsWith("raw", i)) {
            return -1;
        }
        i = skipSpace(i + 3);
        if (src.startsWith("-%}", i)) {
            return skipSpace(i + 3);
        }
        if (src.startsWith("%}", i)) {
            return i + 2;
        }
        return -1;
    }

    private void lexRaw(int tagStart) {
        int i = pos;
        while (true) {
            int tag = src.indexOf("{%", i);
            if (tag < 0) {
                throw error("missing end of raw directive", tagStart);
            }
            int j = tag + 2;
            char sign = j < src.length() ? src.charAt(j) : 0;
            if (sign == '-' || sign == '+') {
                j++;
            } else {
                sign = 0;
            }
            j = skipSpace(j);
            if (src.startsWith("endraw", j)) {
                j = skipSpace(j + 6);
                int end = matchBlockEnd(j);
                if (end >= 0) {
                    emitData(applyLeftWhitespace(src.substring(pos, tag), pos, sign, true), pos);
                    pos = end;
                    return;
                }
            }
            i = tag + 2;
        }
    }

    /** Offset after a block end ({@code +%}}, {@code -%}} + whitespace, {@code %}} + trim newline) at i, or -1. */
    private int matchBlockEnd(int i) {
        if (src.startsWith("+%}", i)) {
            return i + 3;
        }
        if (src.startsWith("-%}", i)) {
            return skipSpace(i + 3);
        }
        if (src.startsWith("%}", i)) {
            return trimNewline(i + 2);
        }
        return -1;
    }

    private int trimNewline(int i) {
        return options.trimBlocks() && i < src.length() && src.charAt(i) == '\n' ? i + 1 : i;
    }

    private int lexComment(int i, int tagStart) {
        int n = src.length();
        for (int k = i; k < n; k++) {
            char c = src.charAt(k);
            if (c == '+' && src.startsWith("#}", k + 1)) {
                return k + 3;
            }
            if (c == '-' && src.startsWith("#}", k + 1)) {
                return skipSpace(k + 3);
            }
            if (c == '#' && k + 1 < n && src.charAt(k + 1) == '}') {
                return trimNewline(k + 2);
            }
        }
        throw error("missing end of comment tag", tagStart);
    }

    private int skipSpace(int i) {
        while (i < src.length() && PyStr.isSpace(src.charAt(i))) {
            i++;
        }
        return i;
    }

    private int lexTag(int i, boolean block, int tagStart) {
        int n = src.length();
        List<Character> balance = new ArrayList<>();
        while (true) {
            if (i >= n) {
                throw error("unexpected end of template, expected '" + (block ? "%}" : "}}") + "'", tagStart);
            }
            if (balance.isEmpty()) {
                if (block) {
                    int end = matchBlockEnd(i);
                    if (end >= 0) {
                        out.add(new Token(Type.BLOCK_END, "%}", i));
                        return end;
                    }
                } else if (src.startsWith("-}}", i)) {
                    out.add(new Token(Type.VAR_END, "}}", i));
                    return skipSpace(i + 3);
                } else if (src.startsWith("}}", i)) {
                    out.add(new Token(Type.VAR_END, "}}", i));
                    return i + 2;
                }
            }
            char c = src.charAt(i);
            if (PyStr.isSpace(c)) {
                i++;
                continue;
            }
            if (c >= '0' && c <= '9') {
                i = lexNumber(i);
                continue;
            }
            if (c == '_' || Character.isLetter(c)) {
                int s = i;
                while (i < n && (src.charAt(i) == '_' || Character.isLetterOrDigit(src.charAt(i)))) {
                    i++;
                }
                out.add(new Token(Type.NAME, src.substring(s, i), s));
                continue;
            }
            if (c == '\'' || c == '"') {
                i = lexString(i, c);
                continue;
            }
            String op = operatorAt(i);
            if (op == null) {
                throw error("unexpected char '" + c + "'", i);
            }
            switch (op) {
                case "(", "[", "{" -> balance.add(op.charAt(0));
                case ")", "]", "}" -> {
                    if (balance.isEmpty()) {
                        throw error("unexpected '" + op + "'", i);
                    }
                    char open = balance.removeLast();
                    char expect = open == '(' ? ')' : open == '[' ? ']' : '}';
                    if (op.charAt(0) != expect) {
                        throw error("unexpected '" + op + "', expected '" + expect + "'", i);
                    }
                }
                default -> { }
            }
            out.add(new Token(Type.OP, op, i));
            i += op.length();
        }
    }

    private static final String[] OPS = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
            "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

    private String operatorAt(int i) {
        for (String op : OPS) {
            if (src.startsWith(op, i)) {
                return op;
            }
        }
        return null;
    }

    /** Integers ({@code 1_000}) and floats ({@code 1.5}, {@code 1e3}); a float may not follow a dot (x.0.1). */
    private int lexNumber(int i) {
        int s = i;
        i = digits(i);
        boolean isFloat = false;
        boolean afterDot = s > 0 && src.charAt(s - 1) == '.';
        if (!afterDot) {
            if (i + 1 < src.length() && src.charAt(i) == '.' && isDigit(i + 1)) {
                i = digits(i + 1);
                isFloat = true;
            }
            if (i < src.length() && (src.charAt(i) == 'e' || src.charAt(i) == 'E')) {
                int j = i + 1;
                if (j < src.length() && (src.charAt(j) == '+' || src.charAt(j) == '-')) {
                    j++;
                }
                if (isDigit(j)) {
                    i = digits(j);
                    isFloat = true;
                }
            }
        }
        out.add(new Token(isFloat ? Type.FLOAT : Type.INT, src.substring(s, i).replace("_", ""), s));
        return i;
    }

    private boolean isDigit(int i) {
        return i >= 0 && i < src.length() && src.charAt(i) >= '0' && src.charAt(i) <= '9';
    }

    private int digits(int i) {
        while (i < src.length()) {
            char c = src.charAt(i);
            if ((c >= '0' && c <= '9') || (c == '_' && isDigit(i - 1) && isDigit(i + 1))) {
                i++;
            } else {
                break;
            }
        }
        return i;
    }

    private int lexString(int i, char quote) {
        int s = i;
        i++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (i >= src.length()) {
                throw error("unexpected end of string", s);
            }
            char c = src.charAt(i);
            if (c == quote) {
                break;
            }
            if (c == '\\' && i + 1 < src.length()) {
                i = unescape(i + 1, sb);
                continue;
            }
            sb.append(c);
            i++;
        }
        out.add(new Token(Type.STRING, sb.toString(), s));
        return i + 1;
    }

    /** Python's unicode-escape decoding of one escape whose letter is at i; returns the next offset. */
    private int unescape(int i, StringBuilder sb) {
        char c = src.charAt(i);
        switch (c) {
            case '\n' -> { return i + 1; }
            case '\\', '\'', '"' -> sb.append(c);
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'v' -> sb.append('\u000b');
            case 'x', 'u', 'U' -> {
                int len = c == 'x' ? 2 : c == 'u' ? 4 : 8;
                if (i + 1 + len > src.length()) {
                    throw error("truncated \\" + c + " escape", i - 1);
                }
                String hex = src.substring(i + 1, i + 1 + len);
                try {
                    sb.appendCodePoint(Integer.parseInt(hex, 16));
                } catch (IllegalArgumentException e) {
                    throw error("invalid \\" + c + " escape", i - 1);
                }
                return i + 1 + len;
            }
            default -> {
                if (c >= '0' && c <= '7') {
                    int j = i;
                    int v = 0;
                    while (j < src.length() && j < i + 3 && src.charAt(j) >= '0' && src.charAt(j) <= '7') {
                        v = v * 8 + (src.charAt(j) - '0');
                        j++;
                    }
                    sb.append((char) v);
                    return j;
                }
                sb.append('\\').append(c);
            }
        }
        return i + 1;
    }
}
