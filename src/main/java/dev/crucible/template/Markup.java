package dev.crucible.template;

/**
 * MarkupSafe's {@code Markup}: text marked safe by {@code |safe} or produced by {@code |escape}. Even with
 * autoescaping off (as transformers renders), {@code Markup + str} and {@code str + Markup} HTML-escape the
 * plain operand, which some chat templates trigger ({@code "..."|safe + name}).
 */
record Markup(String text) {
    static Markup escape(Object v) {
        return v instanceof Markup m ? m : new Markup(Filters.escape(v));
    }

    /** {@code a + b} where at least one side is Markup and both are strings. */
    static Markup concat(Object a, Object b) {
        return new Markup(escape(a).text() + escape(b).text());
    }

    static boolean isStr(Object o) {
        return o instanceof String || o instanceof Markup;
    }

    /** The text of a str or Markup, else the value itself. */
    static Object plain(Object o) {
        return o instanceof Markup m ? m.text() : o;
    }
}
