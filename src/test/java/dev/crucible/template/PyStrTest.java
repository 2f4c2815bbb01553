package dev.crucible.template;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PyStr} and the string methods templates call: Python's {@code str} semantics by code point. Every
 * expected value is what CPython 3 returns for the same call.
 */
class PyStrTest {
    private static String render(String template) {
        return Template.compile(template).render(java.util.Map.of());
    }

    @Test
    void splitOnWhitespaceRunsOrOnASeparator() {
        assertEquals(List.of("A", "b"), PyStr.split(" A \t b\n", null, -1));
        assertEquals(List.of("a", "b", ",c"), PyStr.split("a,b,,c", ",", 2));
        assertEquals(List.of("a b", "c"), PyStr.rsplit("a b c", null, 1));
        assertEquals(List.of("", "a", ""), PyStr.split(",a,", ",", -1));
        TemplateException empty = assertThrows(TemplateException.class, () -> PyStr.split("a", "", -1));
        assertEquals(List.of("ValueError", "empty separator"), List.of(empty.kind(), empty.detail()));
    }

    @Test
    void splitlinesKnowsPythonsLineBoundaries() {
        assertEquals(List.of("a", "b", "c"), PyStr.splitlines("a\r\nb\u000bc\n", false));
        assertEquals(List.of("a\r\n", "b\n"), PyStr.splitlines("a\r\nb\n", true));
        assertEquals(List.of("x", "y"), PyStr.splitlines("x\u2028y", false));
    }

    @Test
    void stripTakesWhitespaceOrTheGivenCharacters() {
        assertEquals("a", PyStr.strip("\u00a0 a\u3000", null));
        assertEquals("axx", PyStr.lstrip("xxaxx", "x"));
        assertEquals("xxa", PyStr.rstrip("xxaxx", "x"));
        assertEquals("b", PyStr.strip("😀b😀", "😀"));
    }

    @Test
    void caseMappingIsUnicodeAware() {
        assertEquals("SS", PyStr.upper("ß"));
        assertEquals("ǆx", PyStr.lower("ǅx"));
        assertEquals("ss", PyStr.casefold("ß"));
        assertEquals("HellO", PyStr.swapcase("hELLo"));
        assertEquals("They'Re Bill'S", PyStr.title("they're bill's"));
        assertEquals("Hello world", PyStr.capitalize("hELLO wORLD"));
        assertTrue(PyStr.isLowerStr("abc"));
        assertTrue(PyStr.isUpperStr("ABC1"));
        assertFalse(PyStr.isLowerStr("1"));
    }

    @Test
    void replaceCountCenterAndTabs() {
        assertEquals("-a-a-a-", PyStr.replace("aaa", "", "-", -1));
        assertEquals("bba", PyStr.replace("aaa", "a", "b", 2));
        assertEquals(4, PyStr.count("aaa", ""));
        assertEquals("*abc**", PyStr.center("abc", 6, "*"));
        assertEquals("**abc**", PyStr.center("abc", 7, "*"));
        assertEquals("a   bc  d", PyStr.expandtabs("a\tbc\td", 4));
    }

    @Test
    void lengthAndIndexCountCodePoints() {
        assertEquals(3, PyStr.length("x😀y"));
        assertEquals("3😀2", render("{{ 'x😀y'|length }}{{ 'x😀y'[1] }}{{ 'x😀y'.find('y') }}"));
    }

    @Test
    void reprQuotesAsPythonDoes() {
        assertEquals("\"it's\"", PyStr.repr("it's"));
        assertEquals("'a\"b'", PyStr.repr("a\"b"));
        assertEquals("'é\\n\\x00'", PyStr.repr("é\n\0"));
    }

    @Test
    void methodsReachableFromTemplates() {
        assertEquals("axxxxaa|('a', '.', 'b.c')True", render("{{ 'xxaxx'.lstrip('x') }}{{ 'xxaxx'.rstrip('x') }}"
                + "{{ ' a '.strip() }}|{{ 'a.b.c'.partition('.') }}{{ 'abc'.startswith(('x', 'a')) }}"));
        assertEquals("1-2000abab..  ab", render("{{ '{}-{x}'.format(1, x=2) }}{{ 'ab'.zfill(5) }}{{ 'ab'.ljust(4, '.') }}"
                + "{{ 'ab'.rjust(4) }}"));
        assertEquals("HelloHello worldTrueTrueTrue", render("{{ 'hello'.title() }}{{ 'hello world'.capitalize() }}"
                + "{{ 'a1b2'.isalnum() }}{{ ' '.isspace() }}{{ 'Hello World'.istitle() }}"));
    }
}
