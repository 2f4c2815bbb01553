package dev.crucible.eval;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Turns generated token ids into text pieces as they arrive. Tokens do not map to whole characters (byte-level
 * BPE splits UTF-8 sequences, SentencePiece drops leading spaces at the start of a decode), so the whole
 * generation is decoded each time and only the new suffix is emitted, held back while it ends in an
 * incomplete character.
 */
public final class TextStream {
    private final Function<int[], String> decoder;
    private int[] ids = new int[0];
    private int emitted;

    public TextStream(Function<int[], String> decoder) {
        this.decoder = decoder;
    }

    /** Adds a token; returns the text it completes (possibly empty). */
    public String push(int token) {
        ids = Arrays.copyOf(ids, ids.length + 1);
        ids[ids.length - 1] = token;
        String text = decoder.apply(ids);
        if (text.endsWith("\uFFFD") || text.length() < emitted) {
            return "";
        }
        String piece = text.substring(emitted);
        emitted = text.length();
        return piece;
    }

    /** Whatever is still held back at the end of the generation. */
    public String flush() {
        String text = decoder.apply(ids);
        String piece = text.length() > emitted ? text.substring(emitted) : "";
        emitted = text.length();
        return piece;
    }
}
