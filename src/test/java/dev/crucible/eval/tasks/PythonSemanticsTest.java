package dev.crucible.eval.tasks;

import dev.crucible.model.template.PythonRegex;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Python pieces lm-eval's numbers depend on; expected values are what CPython 3.11 / numpy print. */
class PythonSemanticsTest {
    @Test
    void literalEvalReadsWhatTemplatesRender() {
        assertEquals(List.of("a'b", "c\"d", "e\nf"), PythonLiteral.parse("['a\\'b', \"c\\\"d\", 'e\\nf']"));
        assertEquals(3L, PythonLiteral.parse("3"));
        assertEquals(-2.5, PythonLiteral.parse(" -2.5 "));
        assertEquals(List.of(1L, 2L), PythonLiteral.parse("(1, 2)"));
        assertEquals(7L, PythonLiteral.parse("(7)"));
        assertEquals(List.of(7L), PythonLiteral.parse("(7,)"));
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("x", true);
        d.put("y", null);
        assertEquals(d, PythonLiteral.parse("{'x': True, 'y': None}"));
        assertEquals("ab", PythonLiteral.parse("'a' 'b'"));
        assertEquals("é\u00e9", PythonLiteral.parse("'\\xe9\\u00e9'"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("[a, b]"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("'open"));
    }

    @Test
    void regexFollowsPythonsRe() {
        // re.findall with groups: a tuple of groups per match; group_select picks a match
        assertEquals(List.of(List.of("", "7"), List.of("3,4", "")),
                PythonRegex.findall("(-?[$0-9.,]{2,})|(-?[0-9]+)", "a 7 b 3,4"));
        assertEquals(List.of("42"), PythonRegex.findall("#### (\\-?[0-9\\.\\,]+)", "x\n#### 42"));
        assertEquals("a b", PythonRegex.sub("\\[.*?\\]", "", "a [x]b", 0));
        assertEquals("no-dollars", PythonRegex.sub("\\$", "", "no-$dollars", 0));
        assertEquals("X-a", PythonRegex.sub("(?P<w>a)", "X-\\g<w>", "a", 0));
        assertEquals("b-a", PythonRegex.sub("(a)(b)", "\\2-\\1", "ab", 0));
        // '.' does not cross a newline without (?s); '$' matches before a final newline only
        assertEquals("keep\nrest", PythonRegex.sub(".*#### ", "", "keep\nrest", 0));
        assertEquals("12", PythonRegex.sub("(?s).*#### ", "", "a\nb #### 12", 0));
        assertEquals("1.5", PythonRegex.sub("\\.$", "", "1.5.", 0));
    }

    @Test
    void exactMatchOptionsAreHfEvaluates() {
        Map<String, Object> gsm = Map.of("ignore_case", true, "ignore_punctuation", false,
                "regexes_to_ignore", List.of(",", "\\$", "(?s).*#### ", "\\.$"));
        assertTrue(TaskMetrics.exactMatch("1,850", "Steps...\n#### 1850", gsm));
        assertTrue(TaskMetrics.exactMatch("$18.", "#### 18", gsm));
        assertFalse(TaskMetrics.exactMatch("18", "#### 19", gsm));
        assertTrue(TaskMetrics.exactMatch("Hello, World!", "hello world", Map.of("ignore_case", true,
                "ignore_punctuation", true)));
        assertTrue(TaskMetrics.exactMatch("a1b2", "ab", Map.of("ignore_numbers", true)));
    }

    @Test
    void textHelpersUsePythonsWhitespace() {
        assertEquals("x", PyText.strip("\u00a0\u2003 x\u001c\n"));
        assertEquals(4, PyText.len("a🙂bc"));
        assertEquals("Then a dog", PyText.capitalize("tHEN a DOG"));
        assertEquals(" ", EvalTask.maybeDelimit("", " ", "\n"));
        assertEquals("a\nb", EvalTask.maybeDelimit("a", "b", "\n"));
        assertEquals("a b", EvalTask.maybeDelimit("a ", "b", "\n"));
    }

    @Test
    void aggregationsAndStandardErrorsMatchLmEval() {
        List<Object> acc = List.of(1.0, 0.0, 1.0, 1.0);
        assertEquals(0.75, Aggregation.MEAN.apply(acc));
        assertEquals(0.25, Aggregation.MEAN.stderr(acc, 100000), 1e-15); // sqrt(0.25/3)/2
        assertEquals(null, Aggregation.MEAN.stderr(List.of(1.0), 100000));
        assertEquals(null, Aggregation.WEIGHTED_PERPLEXITY.stderr(acc, 100000));
        List<Object> weighted = List.of(new Aggregation.Weighted(-10, 4), new Aggregation.Weighted(-6, 4));
        assertEquals(Math.exp(2), Aggregation.WEIGHTED_PERPLEXITY.apply(weighted), 1e-12);
        assertEquals(2 / Math.log(2), Aggregation.BITS_PER_BYTE.apply(weighted), 1e-12);
        // numpy: np.argmax takes the first maximum; np.sum is pairwise
        assertEquals(1, TaskMetrics.argmax(new double[] {1, 3, 3}));
        assertEquals(0.1 + 0.2 + 0.3, NumpySum.pairwise(new double[] {0.1, 0.2, 0.3}));
    }

    @Test
    void pythonJsonIsJsonDumps() {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("q", "é\n\"x\"");
        doc.put("n", List.of(1L, 2.5, 1e-5, 1e16, true));
        doc.put("e", Map.of());
        assertEquals("{\"q\": \"é\\n\\\"x\\\"\", \"n\": [1, 2.5, 1e-05, 1e+16, true], \"e\": {}}", PythonJson.dumps(doc, 0));
        assertEquals("{\n  \"a\": [\n    1\n  ],\n  \"b\": []\n}",
                PythonJson.dumps(linked("a", List.of(1L), "b", List.of()), 2));
    }

    private static Map<String, Object> linked(String k1, Object v1, String k2, Object v2) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }
}
