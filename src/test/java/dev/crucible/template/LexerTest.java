package dev.crucible.template;

import dev.crucible.template.Token.Type;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link Lexer}: tokens, literals and Jinja2's whitespace rules. The data left between tags is what Python
 * Jinja2 3.1.6 renders for the same source (checked with {@code ImmutableSandboxedEnvironment(trim_blocks=True,
 * lstrip_blocks=True)}, transformers' settings, unless a test says otherwise).
 */
class LexerTest {
    private static List<Token> lex(String source, TemplateOptions options) {
        return Lexer.tokenize(Lexer.normalize(source, options.keepTrailingNewline()), options);
    }

    private static List<String> data(String source, TemplateOptions options) {
        List<String> out = new ArrayList<>();
        for (Token t : lex(source, options)) {
            if (t.type() == Type.DATA) {
                out.add(t.value());
            }
        }
        return out;
    }

    private static List<String> shapes(String source) {
        List<String> out = new ArrayList<>();
        for (Token t : lex(source, TemplateOptions.TRANSFORMERS)) {
            out.add(t.type() + ":" + t.value());
        }
        return out;
    }

    @Test
    void normalisesLineEndingsAndDropsOneTrailingNewline() {
        assertEquals("a\nb\nc\n", Lexer.normalize("a\r\nb\rc\n\n", false));
        assertEquals("a\nb\nc\n\n", Lexer.normalize("a\r\nb\rc\n\n", true));
        assertEquals("", Lexer.normalize("\n", false));
    }

    @Test
    void splitsDataFromTagsWithPositions() {
        List<Token> tokens = lex("Hi {{ name }}!", TemplateOptions.TRANSFORMERS);
        assertEquals(List.of(new Token(Type.DATA, "Hi ", 0), new Token(Type.VAR_BEGIN, "{{", 3),
                new Token(Type.NAME, "name", 6), new Token(Type.VAR_END, "}}", 11), new Token(Type.DATA, "!", 13),
                new Token(Type.EOF, "", 14)), tokens);
    }

    @Test
    void readsNumbersAndStringsAsPythonLiterals() {
        assertEquals(List.of("VAR_BEGIN:{{", "INT:1000", "VAR_END:}}", "VAR_BEGIN:{{", "FLOAT:2.5e3", "VAR_END:}}",
                        "VAR_BEGIN:{{", "STRING:a'b\n", "VAR_END:}}", "EOF:"),
                shapes("{{ 1_000 }}{{ 2.5e3 }}{{ 'a\\'b\\n' }}"));
    }

    @Test
    void takesTheLongestOperator() {
        assertEquals(List.of("VAR_BEGIN:{{", "NAME:a", "OP:**", "INT:2", "OP://", "INT:3", "OP:!=", "NAME:b",
                "VAR_END:}}", "EOF:"), shapes("{{ a ** 2 // 3 != b }}"));
    }

    @Test
    void balancesBracesInsideAPrintTag() {
        // the first "}}" closes the inner dict, not the tag
        assertEquals(List.of("VAR_BEGIN:{{", "OP:{", "STRING:a", "OP::", "OP:{", "STRING:b", "OP::", "INT:1", "OP:}",
                "OP:}", "VAR_END:}}", "EOF:"), shapes("{{ {'a': {'b': 1}} }}"));
    }

    @Test
    void trimBlocksRemovesOneNewlineAfterABlockTagOnly() {
        assertEquals(List.of("A\n", "B"), data("{% if x %}\nA\n{% endif %}\nB", TemplateOptions.TRANSFORMERS));
        // not after a print tag
        assertEquals(List.of("\nA"), data("{{ x }}\nA", TemplateOptions.TRANSFORMERS));
        // Jinja2's defaults keep it
        assertEquals(List.of("\nA\n", "\nB"), data("{% if x %}\nA\n{% endif %}\nB", TemplateOptions.JINJA_DEFAULTS));
    }

    @Test
    void lstripBlocksRemovesIndentationBeforeABlockTagUnlessPlus() {
        assertEquals(List.of("a\n", "b"), data("a\n  {% if x %}b{% endif %}", TemplateOptions.TRANSFORMERS));
        assertEquals(List.of("a\n  ", "b"), data("a\n  {%+ if x %}b{% endif %}", TemplateOptions.TRANSFORMERS));
        // only at the start of a line
        assertEquals(List.of("a  ", "b"), data("a  {% if x %}b{% endif %}", TemplateOptions.TRANSFORMERS));
    }

    @Test
    void minusModifiersStripAllWhitespaceOnTheirSide() {
        assertEquals(List.of("a", "b"), data("a \n {{- x -}} \n b", TemplateOptions.TRANSFORMERS));
        assertEquals(List.of("a", "b"), data("a\n\n{#- note -#}\n\nb", TemplateOptions.TRANSFORMERS));
    }

    @Test
    void rawBlocksAndCommentsProduceNoTags() {
        assertEquals(List.of("DATA:{{ x }}{% if %}", "EOF:"), shapes("{% raw %}{{ x }}{% if %}{% endraw %}"));
        assertEquals(List.of("DATA:a", "DATA:b", "EOF:"), shapes("a{# {{ x }} #}b"));
    }

    @Test
    void errorsNameTheLineAndColumn() {
        // Python reports the same lines: 1 for each
        TemplateException.Syntax open = assertThrows(TemplateException.Syntax.class,
                () -> lex("{{ x", TemplateOptions.TRANSFORMERS));
        assertEquals(List.of(1, 1), List.of(open.line(), open.column()));
        TemplateException.Syntax string = assertThrows(TemplateException.Syntax.class,
                () -> lex("ok\n{{ 'abc }}", TemplateOptions.TRANSFORMERS));
        assertEquals(List.of(2, 4), List.of(string.line(), string.column()));
        assertEquals("unexpected end of string", string.detail());
        TemplateException.Syntax raw = assertThrows(TemplateException.Syntax.class,
                () -> lex("{% raw %}x", TemplateOptions.TRANSFORMERS));
        assertEquals("missing end of raw directive", raw.detail());
    }
}
