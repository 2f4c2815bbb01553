package dev.crucible.template;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link Filters}: Jinja2's built-in filters with Python's semantics, and transformers' {@code tojson}. Every
 * expected string is Python Jinja2 3.1.6's output for the same template and context, in transformers'
 * sandbox.
 */
class FiltersTest {
    private static final Map<String, Object> CONTEXT = new HashMap<>();

    static {
        CONTEXT.put("users", List.of(Map.of("name", "bo", "age", 3, "role", "user"),
                Map.of("name", "al", "age", 7, "role", "assistant"), Map.of("name", "cy", "age", 3, "role", "user")));
        CONTEXT.put("words", List.of("b", "A", "a", "c", "b"));
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("b", 1);
        d.put("a", 2);
        CONTEXT.put("d", d);
        CONTEXT.put("s", "  Hello, World  ");
        CONTEXT.put("n", null);
    }

    private static String render(String template) {
        return Template.compile(template).render(CONTEXT);
    }

    @Test
    void selectionAndMapping() {
        assertEquals("bo, al, cy", render("{{ users|map(attribute='name')|join(', ') }}"));
        assertEquals("['bo', 'cy']", render("{{ users|selectattr('role', 'equalto', 'user')|map(attribute='name')|list }}"));
        assertEquals("bb131", render("{{ words|first }}{{ words|last }}{{ users|sum(attribute='age') }}{{ [3,1,2]|min }}"));
        assertEquals("[3, 2, 1]cba", render("{{ [1,2,3]|reverse|list }}{{ 'abc'|reverse }}"));
    }

    @Test
    void filtersReturningGeneratorsHaveNoLength() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> render("{{ users|rejectattr('age', 'gt', 3)|length }}"));
        assertEquals(List.of("TypeError", "object of type 'generator' has no len()"), List.of(e.kind(), e.detail()));
    }

    @Test
    void sortingUniqueAndGrouping() {
        assertEquals("bocyal", render("{{ users|sort(attribute='age,name')|map(attribute='name')|join }}"));
        // case-insensitive by default, stable
        assertEquals("AabbcAabbccbbAa",
                render("{{ words|sort|join }}{{ words|sort(case_sensitive=true)|join }}{{ words|sort(reverse=true)|join }}"));
        assertEquals("['b', 'A', 'c']", render("{{ words|unique|list }}"));
        assertEquals("3:bo/cy;7:al;", render("{% for g in users|groupby('age') %}{{ g.grouper }}:"
                + "{{ g.list|map(attribute='name')|join('/') }};{% endfor %}"));
        assertEquals("[('a', 2), ('b', 1)][('a', 2), ('b', 1)][('b', 1), ('a', 2)]",
                render("{{ d|dictsort }}{{ d|dictsort(by='value', reverse=true) }}{{ d|items|list }}"));
        assertEquals("[[1, 2], [3, 4], [5]][[1, 2, 3], [4, 5]]",
                render("{{ [1,2,3,4,5]|batch(2)|list }}{{ [1,2,3,4,5]|slice(2)|list }}"));
    }

    @Test
    void defaultsAndConversions() {
        // none is defined: only the boolean form replaces falsy values
        assertEquals("Noneyz", render("{{ n|default('x') }}{{ ''|default('y', true) }}{{ undefined_name|default('z') }}"));
        assertEquals("261273.54.0", render("{{ '0x1A'|int(0, 16) }}{{ '12'|int }}{{ 'x'|int(7) }}{{ '3.5'|float }}{{ 4|float }}"));
        // round half to even for the default method, like Python's round
        assertEquals("2.04.02.53.02.0", render("{{ 2.5|round }}{{ 3.5|round }}{{ 2.45|round(1) }}"
                + "{{ 2.1|round(0, 'ceil') }}{{ 2.9|round(method='floor') }}"));
        assertEquals("None[1, 'a']", render("{{ n|string }}{{ [1, 'a']|string }}"));
    }

    @Test
    void stringFilters() {
        assertEquals("Hello, World|hi|16", render("{{ s|trim }}|{{ 'xxhixx'|trim('x') }}|{{ s|length }}"));
        assertEquals("bba", render("{{ 'aaa'|replace('a', 'b', 2) }}"));
        assertEquals("a\n  b|  a\n  b", render("{{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}"));
        assertEquals("  ab  |hello...|3", render("{{ 'ab'|center(6) }}|{{ 'hello world foo'|truncate(9) }}|"
                + "{{ 'a b  c'|wordcount }}"));
        assertEquals("They're Bill's|Hello world|a-3",
                render("{{ \"they're bill's\"|title }}|{{ 'hELLO wORLD'|capitalize }}|{{ '%s-%d'|format('a', 3) }}"));
        assertEquals("\"it's\"'a\"b''é\\n'", render("{{ \"it's\"|pprint }}{{ 'a\"b'|pprint }}{{ 'é\\n'|pprint }}"));
    }

    @Test
    void escapingMarksSafeText() {
        assertEquals("&lt;a&gt;<a><b>&lt;i&gt;", render("{{ '<a>'|escape }}{{ '<a>'|safe }}{{ ('<b>'|safe) + '<i>' }}"));
    }

    @Test
    void tojsonIsTransformersJsonDumps() {
        // ensure_ascii=False, Python's separators, key order kept
        assertEquals("{\"a\": [1, 2.0, null, true], \"é\": \"ü\"}",
                render("{{ {'a': [1, 2.0, none, true], 'é': 'ü'}|tojson }}"));
        assertEquals("{\n  \"a\": 1,\n  \"b\": [\n    1\n  ]\n}", render("{{ {'a': 1, 'b': [1]}|tojson(indent=2) }}"));
    }
}
