package dev.crucible.template;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link Parser}: Jinja2's grammar, operator precedence and statements, seen through what the parsed tree
 * renders, and its syntax errors. Every expected string is Python Jinja2 3.1.6's output for the same template
 * under transformers' settings.
 */
class ParserTest {
    private static final Map<String, Object> CONTEXT = Map.of(
            "users", List.of(Map.of("name", "bo", "age", 3), Map.of("name", "al", "age", 7),
                    Map.of("name", "cy", "age", 3)));

    private static String render(String template) {
        return Template.compile(template).render(CONTEXT);
    }

    @Test
    void arithmeticFollowsJinjaPrecedence() {
        assertEquals("50", render("{{ 2 + 3 * 4 ** 2 }}"));
        // Jinja binds unary minus tighter than **, unlike Python
        assertEquals("4", render("{{ -2 ** 2 }}"));
        // and ** associates to the left
        assertEquals("64", render("{{ 2 ** 3 ** 2 }}"));
        assertEquals("1", render("{{ 10 // 3 % 2 }}"));
        assertEquals("3.5", render("{{ 7 / 2 }}"));
        // unary minus is parsed before the filter, which gets -1
        assertEquals("1", render("{{ -1|abs }}"));
    }

    @Test
    void comparisonsChainAndLogicShortCircuits() {
        assertEquals("True", render("{{ 1 < 2 < 3 }}"));
        assertEquals("True", render("{{ not 1 in [2] }}"));
        assertEquals("False", render("{{ 1 not in [1] or 2 < 1 < 3 }}"));
    }

    @Test
    void conditionalExpressionsNestAndMayOmitElse() {
        assertEquals("b", render("{{ 'a' if false else 'b' if true else 'c' }}"));
        assertEquals("|", render("{{ 'y' if none }}|"));
    }

    @Test
    void subscriptsSlicesAndLiterals() {
        assertEquals("ell[3, 2, 1]c", render("{{ 'hello'[1:4] }}{{ [1,2,3][::-1] }}{{ 'abc'[-1] }}"));
        assertEquals("[1, 2]{'k': [1, (2,)]}", render("{{ (1, 2)|list }}{{ {'k': [1, (2,)]} }}"));
        assertEquals("bo7", render("{{ users[0].name }}{{ users[1]['age'] }}"));
    }

    @Test
    void statementsParseWithTheirBodies() {
        assertEquals("1al", render("{% for u in users if u.age > 3 %}{{ loop.index }}{{ u.name }}{% else %}none"
                + "{% endfor %}"));
        assertEquals("none", render("{% for u in [] %}x{% else %}none{% endfor %}"));
        assertEquals("13", render("{% set ns = namespace(t=0) %}{% for u in users %}{% set ns.t = ns.t + u.age %}"
                + "{% endfor %}{{ ns.t }}"));
        assertEquals("A1B", render("{% set x %}a{{ 1 }}b{% endset %}{{ x|upper }}"));
        assertEquals("1-2 1-3 0-2in", render("{% macro m(a, b=2) %}{{ a }}-{{ b }}{{ caller() if caller }}{% endmacro %}"
                + "{{ m(1) }} {{ m(1, b=3) }} {% call m(0) %}in{% endcall %}"));
        assertEquals("ABC", render("{% filter upper %}ab{{ 'c' }}{% endfilter %}"));
    }

    @Test
    void syntaxErrorsNameLineAndColumnWithJinjasWording() {
        // Python Jinja2 reports the same line numbers (2, 2, 3, 1, 1, 1)
        assertError("{% if x %}\nA", 2, 2,
                "unexpected end of template; Jinja was looking for the following tags: 'elif' or 'else' or 'endif'");
        assertError("a\n{{ 1 + }}", 2, 8, "unexpected end of print statement");
        assertError("a\n\n  {% endfor %}", 3, 6, "Encountered unknown tag 'endfor'.");
        assertError("{{ a b }}", 1, 6, "expected end of print statement, got 'b'");
        assertError("{{ (1 }}", 1, 7, "unexpected '}', expected ')'");
        assertError("{% set = 1 %}", 1, 8, "can't assign to '='");
    }

    private static void assertError(String template, int line, int column, String detail) {
        TemplateException.Syntax e = assertThrows(TemplateException.Syntax.class, () -> Template.compile(template));
        assertEquals(List.of(line, column, detail), List.of(e.line(), e.column(), e.detail()), template);
        assertEquals("TemplateSyntaxError", e.kind());
    }
}
