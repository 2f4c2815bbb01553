package dev.crucible.data.recipe;

import java.util.Locale;

/**
 * The words of a text as MinHash and decontamination see them: text-dedup's rule, the lowercased text split on
 * every non-word character (Python's {@code regex} {@code \W}: letters, marks, decimal digits, connector
 * punctuation such as {@code _} and the zero-width joiners are word characters), empty pieces dropped. The words
 * are kept as UTF-8 in one buffer, one space between them, so a run of {@code n} words is the byte range that
 * {@code " ".join(words[i:i+n]).encode()} gives in Python, hashed without building a string. One instance is reused
 * for many texts by one thread.
 */
public final class Words {
    private byte[] bytes = new byte[4096];
    private int[] starts = new int[512];
    private int[] ends = new int[512];
    private int count;

    /** Splits {@code text}; the previous text's words are forgotten. */
    public Words split(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        count = 0;
        int pos = 0;
        boolean inWord = false;
        int n = lower.length();
        ensureBytes(n * 3 + 1);
        for (int i = 0; i < n; ) {
            int cp = lower.codePointAt(i);
            i += Character.charCount(cp);
            if (isWordChar(cp)) {
                if (!inWord) {
                    if (count > 0) {
                        bytes[pos++] = ' ';
                    }
                    if (count == starts.length) {
                        starts = java.util.Arrays.copyOf(starts, count * 2);
                        ends = java.util.Arrays.copyOf(ends, count * 2);
                    }
                    starts[count] = pos;
                    inWord = true;
                }
                pos = utf8(cp, pos);
                ends[count] = pos;
            } else if (inWord) {
                inWord = false;
                count++;
            }
        }
        if (inWord) {
            count++;
        }
        return this;
    }

    public int count() {
        return count;
    }

    /** The UTF-8 bytes of the words; a run of words {@code [i, j)} is {@code bytes[start(i), end(j - 1))}. */
    public byte[] bytes() {
        return bytes;
    }

    public int start(int word) {
        return starts[word];
    }

    public int end(int word) {
        return ends[word];
    }

    public String word(int i) {
        return new String(bytes, starts[i], ends[i] - starts[i], java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * The number of word {@code n}-grams: {@code count - n + 1}, or, as text-dedup's {@code ngrams} does, a single
     * shingle of all the words when there are fewer than {@code n} (none for a text without words).
     */
    public int shingleCount(int n) {
        return count == 0 ? 0 : Math.max(1, count - n + 1);
    }

    /** The number of complete word {@code n}-grams ({@code count - n + 1}, at least 0): decontamination's spans. */
    public int fullNgramCount(int n) {
        return Math.max(0, count - n + 1);
    }

    /** First byte of shingle {@code i} of size {@code n}. */
    public int shingleStart(int i) {
        return starts[i];
    }

    /** Byte after shingle {@code i} of size {@code n} (clamped to the last word for short texts). */
    public int shingleEnd(int i, int n) {
        return ends[Math.min(count, i + n) - 1];
    }

    private int utf8(int cp, int pos) {
        if (cp < 0x80) {
            bytes[pos++] = (byte) cp;
        } else if (cp < 0x800) {
            bytes[pos++] = (byte) (0xC0 | (cp >> 6));
            bytes[pos++] = (byte) (0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            bytes[pos++] = (byte) (0xE0 | (cp >> 12));
            bytes[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            bytes[pos++] = (byte) (0x80 | (cp & 0x3F));
        } else {
            bytes[pos++] = (byte) (0xF0 | (cp >> 18));
            bytes[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
            bytes[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            bytes[pos++] = (byte) (0x80 | (cp & 0x3F));
        }
        return pos;
    }

    private void ensureBytes(int n) {
        if (bytes.length < n) {
            bytes = new byte[Math.max(n, bytes.length * 2)];
        }
    }

    /** Python {@code regex}'s Unicode {@code \w}: alphabetic, marks, decimal digits, connector punctuation, ZWNJ/ZWJ. */
    static boolean isWordChar(int cp) {
        if (cp < 0x80) {
            return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '_' || (cp >= 'A' && cp <= 'Z');
        }
        if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) {
            return true;
        }
        return switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK,
                 Character.DECIMAL_DIGIT_NUMBER, Character.CONNECTOR_PUNCTUATION -> true;
            default -> false;
        };
    }
}
