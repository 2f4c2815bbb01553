package dev.crucible.template;

/** One lexer token; {@code pos} is the offset in the (newline-normalised) source. */
record Token(Type type, String value, int pos) {
    enum Type { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    boolean isName(String v) {
        return type == Type.NAME && value.equals(v);
    }

    boolean isOp(String v) {
        return type == Type.OP && value.equals(v);
    }
}
