package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.crucible.template.FixtureSupport.reference;
import static dev.crucible.template.FixtureSupport.render;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Language features against Python Jinja2's own output ({@code python_jinja2/behaviour.json}). */
class PythonBehaviourTest {
    @Test
    void everyFeatureGroupRendersExactlyAsPythonJinja2() {
        JsonNode b = FixtureSupport.read("python_jinja2/behaviour.json");
        List<String> failures = new ArrayList<>();
        for (JsonNode c : b.get("cases")) {
            String got = render(c.get("template").asText(), FixtureSupport.context(b.get("context")),
                    TemplateOptions.TRANSFORMERS);
            String python = reference(c);
            if (!got.equals(python)) {
                failures.add(c.get("template").asText() + "\n  got    " + got + "\n  python " + python);
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(43, b.get("cases").size());
    }

    @Test
    void everyFilterOperatorAndTestOnEveryValueTypeMatches() {
        assertEquals(List.of(), matrixFailures("matrix", "matrix_context"));
        assertEquals(469, FixtureSupport.read("python_jinja2/behaviour.json").get("matrix").size());
    }

    @Test
    void stringMethodsNumberFormattingAndMixedTypeOperatorsMatch() {
        assertEquals(List.of(), matrixFailures("strings", "strings_context"));
        assertEquals(350, FixtureSupport.read("python_jinja2/behaviour.json").get("strings").size());
    }

    private static List<String> matrixFailures(String group, String contextKey) {
        JsonNode b = FixtureSupport.read("python_jinja2/behaviour.json");
        List<String> failures = new ArrayList<>();
        for (JsonNode c : b.get(group)) {
            String got = render(c.get("template").asText(), FixtureSupport.context(b.get(contextKey)),
                    TemplateOptions.TRANSFORMERS);
            String python = reference(c);
            if (!got.equals(python)) {
                failures.add(c.get("template").asText() + "\n  got    " + got + "\n  python " + python);
            }
        }
        return failures;
    }

    @Test
    void whitespaceControlMatchesUnderEveryOptionCombination() {
        JsonNode b = FixtureSupport.read("python_jinja2/behaviour.json");
        List<String> failures = new ArrayList<>();
        for (JsonNode c : b.get("whitespace")) {
            TemplateOptions o = TemplateOptions.TRANSFORMERS.withWhitespace(c.get("trim_blocks").asBoolean(),
                    c.get("lstrip_blocks").asBoolean(), c.get("keep_trailing_newline").asBoolean());
            String got = render(c.get("template").asText(), java.util.Map.of(), o);
            String python = reference(c);
            if (!got.equals(python)) {
                failures.add(o + " " + c.get("template").asText() + "\n  got    " + got + "\n  python " + python);
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(112, b.get("whitespace").size());
    }
}
