package dev.crucible.eval.tasks;

import java.util.Locale;

/**
 * The few Python str semantics lm-eval's request building depends on: whitespace is what {@code str.isspace}
 * accepts (Unicode Zs and the bidi whitespace classes, so U+00A0 and U+001C..U+001F count), lengths are in code
 * points ({@code len(str)}), and {@code capitalize} title-cases the first character and lower-cases the rest.
 */
final class PyText {
    private PyText() {
    }

    static boolean isSpace(int cp) {
        if (Character.getType(cp) == Character.SPACE_SEPARATOR) {
            return true;
        }
        byte d = Character.getDirectionality(cp);
        return d == Character.DIRECTIONALITY_WHITESPACE || d == Character.DIRECTIONALITY_PARAGRAPH_SEPARATOR
                || d == Character.DIRECTIONALITY_SEGMENT_SEPARATOR;
    }

    static String strip(String s) {
        return rstrip(lstrip(s));
    }

    static String lstrip(String s) {
        int i = 0;
        while (i < s.length() && isSpace(s.codePointAt(i))) {
            i += Character.charCount(s.codePointAt(i));
        }
        return s.substring(i);
    }

    static String rstrip(String s) {
        int end = s.length();
        while (end > 0 && isSpace(s.codePointBefore(end))) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(0, end);
    }

    /** {@code len(s)}: code points, not UTF-16 units. */
    static int len(String s) {
        return s.codePointCount(0, s.length());
    }

    static boolean startsWithSpace(String s) {
        return !s.isEmpty() && isSpace(s.codePointAt(0));
    }

    static boolean endsWithSpace(String s) {
        return !s.isEmpty() && isSpace(s.codePointBefore(s.length()));
    }

    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        int n = Character.charCount(first);
        return new String(Character.toChars(Character.toTitleCase(first))) + s.substring(n).toLowerCase(Locale.ROOT);
    }

    /** {@code str.isdigit()}: non-empty and every character a digit (Unicode Nd, plus other digit characters). */
    static boolean isDigits(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
    }
}
