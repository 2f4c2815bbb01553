package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.crucible.template.FixtureSupport.context;
import static dev.crucible.template.FixtureSupport.reference;
import static dev.crucible.template.FixtureSupport.render;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * huggingface.js's Jinja test cases ({@code hfjs_jinja_expected.json}), character for character. huggingface.js
 * is a JavaScript re-implementation; where its expectation is JavaScript behaviour that Python's Jinja2 (what
 * transformers renders with) does not have, the case is listed below with the reason and compared with
 * Python Jinja2's own render ({@code python_jinja2/reference.json}) instead. Every other case must equal both.
 */
class HfjsFixturesTest {
    private static final String BOOL = "Python prints True/False, huggingface.js prints true/false";
    private static final String BOOL_INT = "in Python True == 1 and False == 0 (so `1 in [true]` is True); "
            + "Python also prints True/False";
    private static final String REPR = "Python prints lists/dicts/strings inside them as repr ('a', None, True), "
            + "huggingface.js as JSON";
    private static final String CONCAT = "Python's + does not mix int and str: TypeError, where JavaScript concatenates";
    private static final String GENERATOR = "Jinja2's select/reject/selectattr/items filters return generators: "
            + "no len(), no slicing (TypeError)";
    private static final String NULL = "`null` is not a Jinja2 literal but an undefined name; tojson(Undefined) raises";

    /** Cases whose huggingface.js expectation is not Python Jinja2's behaviour, with the reason. */
    static final Map<String, String> DIVERGES = new LinkedHashMap<>();

    static {
        for (String n : List.of("BOOLEAN_LITERALS", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "LOGICAL_NOT_NOT",
                "LOGICAL_AND_OR", "LOGICAL_AND_NOT", "LOGICAL_OR_NOT", "LOGICAL_COMBINED", "BINOP_EXPR",
                "BINOP_EXPR_1", "MEMBERSHIP_UNDEFINED", "UNARY_SIGN_EXPRESSIONS", "SUBSTRING_INCLUSION",
                "FILTER_OPERATOR_16", "BOOLEAN_NUMERICAL", "BOOLEAN_STRINGS", "BOOLEAN_MIXED", "BOOLEAN_MIXED_2",
                "IS_OPERATOR", "IS_OPERATOR_2", "IS_OPERATOR_3", "IS_OPERATOR_5", "IS_OPERATOR_6", "SHORT_CIRCUIT",
                "SHORT_CIRCUIT_1", "NAMESPACE_1", "NAMESPACE_2", "OBJECT_OPERATORS", "OBJECT_OPERATORS_1", "SCOPE",
                "SCOPE_1")) {
            DIVERGES.put(n, BOOL);
        }
        for (String n : List.of("MEMBERSHIP", "MEMBERSHIP_NEGATION_1", "MEMBERSHIP_NEGATION_2")) {
            DIVERGES.put(n, BOOL_INT);
        }
        for (String n : List.of("PROPERTIES_1", "FILTER_OPERATOR_13", "SORT_BASIC_STRINGS", "SORT_CASE_SENSITIVE",
                "SORT_CASE_INSENSITIVE", "SORT_ATTRIBUTE_SIMPLE", "SORT_CHAINED", "SORT_STABLE",
                "SORT_POSITIONAL_REVERSE_CASE", "SORT_POSITIONAL_ALL", "SORT_NULL_VALUES", "SORT_UNDEFINED_VALUES",
                "SORT_MIXED_BOOL_NUM", "MadeAgents/Hammer2.1")) {
            DIVERGES.put(n, REPR);
        }
        for (String n : List.of("FOR_LOOP_UNPACKING", "FOR_LOOP_OBJECTS", "OBJECT_OPERATORS_2", "MACROS_2")) {
            DIVERGES.put(n, CONCAT);
        }
        for (String n : List.of("FILTER_OPERATOR_4", "FILTER_OPERATOR_5", "FILTER_OPERATOR_6", "FILTER_OPERATOR_11",
                "FILTER_OPERATOR_12")) {
            DIVERGES.put(n, GENERATOR);
        }
        DIVERGES.put("FILTER_OPERATOR_7", NULL);
    }

    /**
     * Cases where the Python reference (generated on Python 3.11) fails only because of the Python version:
     * {@code str.replace(..., count=1)} takes a keyword since Python 3.13, as Crucible and huggingface.js do.
     */
    static final Set<String> NEWER_PYTHON = Set.of("REPLACE");

    private static final JsonNode HF = FixtureSupport.read("hfjs_jinja_expected.json");
    private static final JsonNode REF = FixtureSupport.read("python_jinja2/reference.json");

    private record Tally(int equalHfjs, int equalPythonOnly, List<String> failures) {
    }

    private Tally check(String group, JsonNode cases, JsonNode refs, String templateKey, String dataKey,
                        String expectedKey, boolean transformersOptions) {
        int equalHfjs = 0;
        int equalPython = 0;
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            JsonNode c = cases.get(i);
            String name = c.has("name") ? c.get("name").asText() : group + "#" + i;
            TemplateOptions options = TemplateOptions.TRANSFORMERS;
            if (!transformersOptions) {
                JsonNode o = c.path("options");
                options = options.withWhitespace(o.path("trim_blocks").asBoolean(false),
                        o.path("lstrip_blocks").asBoolean(false), false);
            }
            String got = render(c.get(templateKey).asText(), context(c.get(dataKey)), options);
            String hfjs = "OUT:" + c.get(expectedKey).asText();
            String python = reference(refs.get(i));
            if (DIVERGES.containsKey(name)) {
                if (got.equals(python) && !got.equals(hfjs)) {
                    equalPython++;
                } else {
                    failures.add(name + " (listed as diverging: " + DIVERGES.get(name) + ")\n  got    " + got
                            + "\n  python " + python);
                }
            } else if (got.equals(hfjs) && (got.equals(python) || NEWER_PYTHON.contains(name))) {
                equalHfjs++;
            } else {
                failures.add(name + "\n  got    " + got + "\n  hfjs   " + hfjs + "\n  python " + python);
            }
        }
        return new Tally(equalHfjs, equalPython, failures);
    }

    @Test
    void realModelRendersMatchCharacterForCharacter() {
        Tally t = check("e2e", HF.get("e2e_chat_templates"), REF.get("e2e"), "chat_template", "data", "target", true);
        assertEquals(List.of(), t.failures());
        assertEquals(52, t.equalHfjs(), "e2e cases equal to huggingface.js and Python Jinja2");
        assertEquals(1, t.equalPythonOnly(), "e2e cases equal to Python Jinja2 where huggingface.js differs");
    }

    @Test
    void featureCasesMatchWithJinjaDefaultOptions() {
        Tally t = check("feature", HF.get("template_feature_cases"), REF.get("feature"), "template", "context",
                "expected", false);
        assertEquals(List.of(), t.failures());
        assertEquals(99, t.equalHfjs());
        assertEquals(58, t.equalPythonOnly());
    }

    @Test
    void whitespaceOptionCasesMatch() {
        Tally t = check("ws", HF.get("whitespace_option_cases"), REF.get("whitespace"), "template", "data", "target",
                false);
        assertEquals(List.of(), t.failures());
        assertEquals(16, t.equalHfjs());
    }
}
