package dev.crucible.model.template;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Python's {@code re} module for the patterns task files use ({@code re.sub}, {@code re.findall}, {@code re.search}),
 * run on {@link java.util.regex}: Python's syntax is translated ({@code (?P<name>...)}, {@code (?P=name)},
 * {@code \Z}) and the flags give Python's meaning to {@code .}, {@code $}, {@code \d}, {@code \w}, {@code \s} and
 * {@code \b} on str patterns (only {@code \n} ends a line; the classes are Unicode-aware).
 */
public final class PythonRegex {
    private static final ConcurrentHashMap<String, Pattern> CACHE = new ConcurrentHashMap<>();

    private PythonRegex() {
    }

    /** Compiles a Python pattern; a syntax error is a {@link TemplateException} naming the pattern. */
    public static Pattern compile(String pythonPattern) {
        return CACHE.computeIfAbsent(pythonPattern, p -> {
            try {
                return Pattern.compile(translate(p), Pattern.UNIX_LINES | Pattern.UNICODE_CHARACTER_CLASS);
            } catch (PatternSyntaxException e) {
                throw new TemplateException("re.error", "bad regular expression " + PyStr.repr(p) + ": "
                        + e.getDescription());
            }
        });
    }

    /** {@code re.sub(pattern, repl, string, count)} (count 0 = all), with Python's {@code \1}/{@code \g<name>}. */
    public static String sub(String pattern, String repl, String string, long count) {
        Matcher m = compile(pattern).matcher(string);
        StringBuilder out = new StringBuilder();
        int last = 0;
        long done = 0;
        while ((count == 0 || done < count) && m.find()) {
            out.append(string, last, m.start());
            expand(repl, m, out);
            last = m.end();
            done++;
        }
        out.append(string, last, string.length());
        return out.toString();
    }

    /**
     * {@code re.findall(pattern, string)}: each match's whole text when the pattern has no group, its group when it
     * has one, else a list of all groups; an unmatched group is the empty string.
     */
    public static List<Object> findall(String pattern, String string) {
        Matcher m = compile(pattern).matcher(string);
        List<Object> out = new ArrayList<>();
        int groups = m.groupCount();
        while (m.find()) {
            if (groups == 0) {
                out.add(m.group());
            } else if (groups == 1) {
                out.add(orEmpty(m.group(1)));
            } else {
                List<Object> tuple = new ArrayList<>(groups);
                for (int g = 1; g <= groups; g++) {
                    tuple.add(orEmpty(m.group(g)));
                }
                out.add(tuple);
            }
        }
        return out;
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    static String translate(String p) {
        StringBuilder out = new StringBuilder(p.length() + 8);
        boolean inClass = false;
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '\\' && i + 1 < p.length()) {
                char n = p.charAt(i + 1);
                if (n == 'Z' && !inClass) {
                    out.append("\\z");
                } else {
                    out.append(c).append(n);
                }
                i++;
            } else if (inClass) {
                if (c == '[') {
                    out.append("\\["); // Java would open a nested class; Python takes '[' literally
                } else {
                    if (c == ']') {
                        inClass = false;
                    }
                    out.append(c);
                }
            } else if (c == '[') {
                inClass = true;
                out.append(c);
                if (i + 1 < p.length() && p.charAt(i + 1) == '^') {
                    out.append('^');
                    i++;
                }
                if (i + 1 < p.length() && p.charAt(i + 1) == ']') { // a leading ']' is literal in Python
                    out.append("\\]");
                    i++;
                }
            } else if (p.startsWith("(?P<", i)) {
                out.append("(?<");
                i += 3;
            } else if (p.startsWith("(?P=", i)) {
                int end = p.indexOf(')', i);
                out.append("\\k<").append(p, i + 4, end).append('>');
                i = end;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Appends Python's expansion of a replacement template: {@code \1}, {@code \g<1>}, {@code \g<name>}, escapes. */
    private static void expand(String repl, Matcher m, StringBuilder out) {
        for (int i = 0; i < repl.length(); i++) {
            char c = repl.charAt(i);
            if (c != '\\' || i + 1 == repl.length()) {
                out.append(c);
                continue;
            }
            char n = repl.charAt(++i);
            if (n == 'g' && i + 1 < repl.length() && repl.charAt(i + 1) == '<') {
                int end = repl.indexOf('>', i);
                String ref = repl.substring(i + 2, end);
                String g = ref.chars().allMatch(Character::isDigit) ? m.group(Integer.parseInt(ref)) : m.group(ref);
                out.append(orEmpty(g));
                i = end;
            } else if (Character.isDigit(n)) {
                int end = i + 1;
                if (end < repl.length() && Character.isDigit(repl.charAt(end))) {
                    end++;
                }
                out.append(orEmpty(m.group(Integer.parseInt(repl.substring(i, end)))));
                i = end - 1;
            } else {
                out.append(switch (n) {
                    case 'n' -> "\n";
                    case 't' -> "\t";
                    case 'r' -> "\r";
                    case 'f' -> "\f";
                    case 'v' -> "\u000b";
                    case 'a' -> "\u0007";
                    case 'b' -> "\b";
                    case '\\' -> "\\";
                    default -> "\\" + n; // Python keeps unknown ASCII-letter escapes as errors; others literally
                });
            }
        }
    }
}
