package dev.crucible.template;

import dev.crucible.CrucibleException;

/**
 * A template failed to compile or render. {@link #kind()} names the Python exception transformers would
 * raise (TemplateSyntaxError, UndefinedError, TypeError, SecurityError, TemplateError, ...), so callers can
 * tell a template's own {@code raise_exception} (kind "TemplateError") from a broken template.
 */
public class TemplateException extends CrucibleException {
    private final String kind;
    private final String detail;

    public TemplateException(String kind, String detail) {
        super(detail);
        this.kind = kind;
        this.detail = detail;
    }

    protected TemplateException(String kind, String detail, String message) {
        super(message);
        this.kind = kind;
        this.detail = detail;
    }

    public String kind() {
        return kind;
    }

    /** The message without location, as Python's exception would carry it. */
    public String detail() {
        return detail;
    }

    /** A syntax error; the message names the line and column (1-based). */
    public static final class Syntax extends TemplateException {
        private final int line;
        private final int column;

        public Syntax(String detail, int line, int column) {
            super("TemplateSyntaxError", detail, "template syntax error at line " + line + ", column " + column
                    + ": " + detail);
            this.line = line;
            this.column = column;
        }

        public int line() {
            return line;
        }

        public int column() {
            return column;
        }
    }

    /** The template's own {@code raise_exception(message)}: the message is exactly the template's text. */
    public static final class Raised extends TemplateException {
        public Raised(String message) {
            super("TemplateError", message);
        }
    }

    /** A render stopped by a safety limit (output size, iterations, recursion). */
    public static final class LimitExceeded extends TemplateException {
        public LimitExceeded(String message) {
            super("LimitExceeded", message);
        }
    }
}
