package dev.crucible.gguf;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The vocabulary of a SentencePiece {@code tokenizer.model}: its pieces with their scores and types, read from
 * the protobuf {@code ModelProto} (field 1, repeated {@code SentencePiece {1: piece, 2: score, 3: type}}) by a
 * minimal wire-format reader. Everything else in the model (trainer and normalizer specs) is skipped.
 */
public record SentencePieceModel(List<Piece> pieces) {
    /** SentencePiece's piece types, with the ids llama.cpp stores as token types. */
    public enum Type {
        NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

        public final int id;

        Type(int id) {
            this.id = id;
        }
    }

    public record Piece(String piece, float score, Type type) {
    }

    public static SentencePieceModel read(Path file) {
        byte[] b;
        try {
            b = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
        try {
            return parse(b);
        } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new CrucibleException(file + ": not a SentencePiece model (" + e.getMessage() + ")");
        }
    }

    static SentencePieceModel parse(byte[] b) {
        Wire w = new Wire(b, 0, b.length);
        List<Piece> pieces = new ArrayList<>();
        while (w.more()) {
            long tag = w.varint();
            int field = (int) (tag >>> 3);
            int wireType = (int) (tag & 7);
            if (field == 1 && wireType == 2) {
                pieces.add(piece(w.message()));
            } else {
                w.skip(wireType);
            }
        }
        if (pieces.isEmpty()) {
            throw new IllegalArgumentException("no pieces");
        }
        return new SentencePieceModel(List.copyOf(pieces));
    }

    private static Piece piece(Wire w) {
        String text = "";
        float score = 0f;
        Type type = Type.NORMAL;
        while (w.more()) {
            long tag = w.varint();
            int field = (int) (tag >>> 3);
            int wireType = (int) (tag & 7);
            if (field == 1 && wireType == 2) {
                text = w.string();
            } else if (field == 2 && wireType == 5) {
                score = Float.intBitsToFloat(w.fixed32());
            } else if (field == 3 && wireType == 0) {
                long t = w.varint();
                if (t < 1 || t > 6) {
                    throw new IllegalArgumentException("piece type " + t);
                }
                type = Type.values()[(int) t - 1];
            } else {
                w.skip(wireType);
            }
        }
        return new Piece(text, score, type);
    }

    public int size() {
        return pieces.size();
    }

    /** Protobuf wire format over a byte range. */
    private static final class Wire {
        private final byte[] b;
        private int pos;
        private final int end;

        Wire(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new IllegalArgumentException("truncated varint");
                }
                byte x = b[pos++];
                v |= (long) (x & 0x7F) << shift;
                if (x >= 0) {
                    return v;
                }
            }
            throw new IllegalArgumentException("varint too long");
        }

        int fixed32() {
            check(4);
            int v = (b[pos] & 0xFF) | (b[pos + 1] & 0xFF) << 8 | (b[pos + 2] & 0xFF) << 16 | (b[pos + 3] & 0xFF) << 24;
            pos += 4;
            return v;
        }

        private int length() {
            long n = varint();
            if (n < 0 || n > end - pos) {
                throw new IllegalArgumentException("length " + n + " past the end");
            }
            return (int) n;
        }

        Wire message() {
            int n = length();
            Wire w = new Wire(b, pos, pos + n);
            pos += n;
            return w;
        }

        String string() {
            int n = length();
            String s = new String(b, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        private void check(int n) {
            if (end - pos < n) {
                throw new IllegalArgumentException("truncated field");
            }
        }

        void skip(int wireType) {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> {
                    check(8);
                    pos += 8;
                }
                case 2 -> {
                    int n = length(); // read first: `pos += length()` would add to the old pos
                    pos += n;
                }
                case 5 -> {
                    check(4);
                    pos += 4;
                }
                default -> throw new IllegalArgumentException("wire type " + wireType);
            }
        }
    }
}
