package dev.crucible.template;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad templates: syntax errors with positions, Undefined semantics, the sandbox, and runaway templates. */
class TemplateSafetyTest {
    private static String render(String t, Map<String, ?> ctx) {
        return Template.compile(t).render(ctx);
    }

    private static TemplateException.Syntax syntax(String t) {
        return assertThrows(TemplateException.Syntax.class, () -> Template.compile(t));
    }

    @Test
    void syntaxErrorsNameLineAndColumn() {
        TemplateException.Syntax e = syntax("Hello\n{% if x %}\n  {{ 1 + }}\n{% endif %}");
        assertEquals(3, e.line());
        assertEquals(10, e.column(), e.getMessage());
        assertTrue(e.getMessage().startsWith("template syntax error at line 3, column 10: "), e.getMessage());

        e = syntax("{% for x in y %}\n{{ x }}");
        assertEquals(2, e.line());
        assertTrue(e.detail().contains("'endfor'"), e.detail());

        e = syntax("line one\n  two {% foo %}");
        assertEquals(2, e.line());
        assertEquals(10, e.column());
        assertEquals("Encountered unknown tag 'foo'.", e.detail());

        e = syntax("{{ x");
        assertEquals(1, e.line());
        assertTrue(e.detail().startsWith("unexpected end of template"), e.detail());

        e = syntax("ab\r\ncd {{ 'open }}");
        assertEquals(2, e.line(), "CRLF counts as one line break");
        assertEquals(7, e.column(), "the unterminated string starts at column 7");

        assertEquals(1, syntax("{% if %}").line());
        assertEquals(6, syntax("{{ 1 2 }}").column());
        assertEquals(1, syntax("{{ (1 }}").line());
        assertTrue(syntax("{# never closed").detail().contains("comment"));
        assertTrue(syntax("{% raw %} no end").detail().contains("raw"));
    }

    @Test
    void undefinedBehavesLikeJinja2DefaultUndefined() {
        Map<String, Object> ctx = Map.of("d", Map.of("a", 1));
        assertEquals("[]|0|empty|False|dflt", render("[{{ x }}]|{{ x|length }}|{% for i in x %}no{% else %}empty"
                + "{% endfor %}|{{ x is defined }}|{{ x|default('dflt') }}", ctx));
        assertEquals("|no", render("{{ d.missing }}|{% if d.missing %}yes{% else %}no{% endif %}", ctx));
        TemplateException e = assertThrows(TemplateException.class, () -> render("{{ x.y }}", ctx));
        assertEquals("UndefinedError", e.kind());
        assertEquals("'x' is undefined", e.detail());
        e = assertThrows(TemplateException.class, () -> render("{{ d.missing.y }}", ctx));
        assertEquals("'dict object' has no attribute 'missing'", e.detail());
        e = assertThrows(TemplateException.class, () -> render("{{ x + 1 }}", ctx));
        assertEquals("UndefinedError", e.kind());
        e = assertThrows(TemplateException.class, () -> render("{{ x() }}", ctx));
        assertEquals("'x' is undefined", e.detail());
        e = assertThrows(TemplateException.class, () -> render("{{ x[0] }}", ctx));
        assertEquals("UndefinedError", e.kind());
    }

    @Test
    void sandboxRefusesMutationAndPrivateAttributes() {
        Map<String, Object> ctx = Map.of("items", List.of(1, 2), "d", Map.of("a", 1));
        TemplateException e = assertThrows(TemplateException.class, () -> render("{% set _ = items.append(3) %}", ctx));
        assertEquals("SecurityError", e.kind());
        assertEquals("access to attribute 'append' of 'list' object is unsafe.", e.detail());
        e = assertThrows(TemplateException.class, () -> render("{{ d.update({'b': 2}) }}", ctx));
        assertEquals("SecurityError", e.kind());
        e = assertThrows(TemplateException.class, () -> render("{{ ''.__class__.__mro__ }}", ctx));
        assertEquals("SecurityError", e.kind());
        assertEquals("", render("{{ ''.__class__ }}", ctx), "an unsafe attribute prints as empty, like Undefined");
        e = assertThrows(TemplateException.class, () -> render("{{ range(200000)|length }}", ctx));
        assertEquals("OverflowError", e.kind());
        e = assertThrows(TemplateException.class, () -> render("{{ getClass() }}", ctx));
        assertEquals("UndefinedError", e.kind(), "no Java method is reachable");
        assertThrows(TemplateException.class, () -> Template.compile("x").render(Map.of("o", new Object())),
                "only JSON-like values can be passed in");
    }

    @Test
    void runawayRecursionIsStopped() {
        TemplateException e = assertThrows(TemplateException.LimitExceeded.class,
                () -> render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Map.of()));
        assertTrue(e.getMessage().contains("call depth"), e.getMessage());
        e = assertThrows(TemplateException.LimitExceeded.class, () -> render(
                "{% for n in [[1]] recursive %}{{ loop([n]) }}{% endfor %}", Map.of()));
        assertTrue(e.getMessage().contains("call depth"), e.getMessage());
    }

    @Test
    void endlessLoopsAreStopped() {
        Template t = Template.compile("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                TemplateOptions.TRANSFORMERS.withLimits(1 << 20, 500_000, 50));
        TemplateException e = assertThrows(TemplateException.LimitExceeded.class, () -> t.render(Map.of()));
        assertTrue(e.getMessage().contains("500000 loop iterations"), e.getMessage());
    }

    @Test
    void hugeStringsAreStopped() {
        TemplateOptions small = TemplateOptions.TRANSFORMERS.withLimits(1 << 20, 1_000_000, 50);
        for (String op : List.of("~", "+")) {
            Template doubling = Template.compile("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                    + "{% set ns.s = ns.s " + op + " ns.s %}{% endfor %}", small);
            TemplateException e = assertThrows(TemplateException.LimitExceeded.class, () -> doubling.render(Map.of()));
            assertTrue(e.getMessage().contains("over the limit of 1048576"), e.getMessage());
        }
        assertThrows(TemplateException.LimitExceeded.class, () -> render("{{ 'x' * 1000000000000 }}", Map.of()));
        Template t = Template.compile("{% for i in range(100000) %}{{ 'abcdefghij' * 100 }}{% endfor %}",
                TemplateOptions.TRANSFORMERS.withLimits(10_000_000, 1_000_000, 50));
        TemplateException e = assertThrows(TemplateException.LimitExceeded.class, () -> t.render(Map.of()));
        assertTrue(e.getMessage().contains("output exceeds the limit of 10000000"), e.getMessage());
    }

    @Test
    void randomPicksAnItem() {
        for (int i = 0; i < 20; i++) {
            assertTrue(List.of("a", "b", "c").contains(render("{{ ['a', 'b', 'c']|random }}", Map.of())));
        }
        assertEquals("", render("{{ []|random }}", Map.of()));
    }

    @Test
    void integersBeyond64BitsAreRefusedNotWrapped() {
        TemplateException e = assertThrows(TemplateException.class, () -> render("{{ 1e22|int }}", Map.of()));
        assertEquals("OverflowError", e.kind());
        e = assertThrows(TemplateException.class, () -> render("{{ 9223372036854775807 + 1 }}", Map.of()));
        assertEquals("OverflowError", e.kind());
        assertEquals("9223372036854775807", render("{{ 9223372036854775806 + 1 }}", Map.of()));
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        TemplateException e = assertThrows(TemplateException.Raised.class,
                () -> render("{{ raise_exception('Only user and assistant roles are supported!') }}", Map.of()));
        assertEquals("Only user and assistant roles are supported!", e.getMessage());
        assertEquals("TemplateError", e.kind());
    }

    @Test
    void aCompiledTemplateRendersConcurrently() throws Exception {
        Template t = Template.compile("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}");
        List<Thread> threads = new ArrayList<>();
        List<String> results = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 4; i++) {
            int n = i;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int k = 0; k < 200; k++) {
                    results.add(t.render(Map.of("messages", List.of(Map.of("role", "u" + n, "content", "c" + k)))));
                }
            }));
        }
        for (Thread th : threads) {
            th.join();
        }
        assertEquals(800, results.size());
        assertTrue(results.contains("u3:c199;"));
    }
}
