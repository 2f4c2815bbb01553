package dev.crucible.merge;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What mergekit's pydantic schema accepts, Crucible accepts with the same meaning (or warns where mergekit ignores). */
class MergeConfigCompatibilityTest {
    static MergeConfig parse(String yaml) {
        return MergeConfig.parse(yaml, FIXTURES);
    }

    /** Every output tensor with its inputs and evaluated parameters: two configs that mean the same plan the same. */
    static String planText(MergeConfig c) {
        try (MergePlan plan = MergePlan.build(c, false)) {
            StringBuilder sb = new StringBuilder();
            for (MergePlan.Entry e : plan.entries()) {
                sb.append(e.name()).append(' ').append(e.inputs()).append(' ').append(e.baseIndex()).append(' ')
                        .append(e.globalParameters()).append(' ').append(e.modelParameters()).append('\n');
            }
            return sb.toString();
        }
    }

    static final String SHORT = """
            merge_method: ties
            base_model: models/tiny-base
            models:
              - model: models/tiny-ft1
                parameters: {density: 0.5, weight: 0.6}
              - model: models/tiny-ft2
                parameters: {density: 0.7, weight: 0.4}
            parameters: {normalize: true}
            dtype: bfloat16
            """;

    @Test
    void expandedModelReferencesOfMergekitDumpsMeanTheSame() {
        MergeConfig expanded = parse("""
                merge_method: ties
                base_model:
                  model: {path: models/tiny-base, revision: null}
                  lora: null
                  override_architecture: null
                models:
                  - model: {model: {path: models/tiny-ft1}, lora: null}
                    parameters: {density: 0.5, weight: 0.6}
                  - model: {model: models/tiny-ft2@main}
                    parameters: {density: 0.7, weight: 0.4}
                parameters: {normalize: true}
                dtype: bfloat16
                """);
        assertEquals(planText(parse(SHORT)), planText(expanded));
        assertTrue(expanded.warnings.isEmpty(), expanded.warnings.toString());
    }

    @Test
    void tokenizerSourcesTakeModelReferenceMappings() {
        MergeConfig c = parse("""
                merge_method: linear
                models:
                  - model: models/tinytok-ft1
                    parameters: {weight: 1}
                tokenizer_source: {model: {path: models/tinytok-base}}
                """);
        assertEquals("model", c.tokenizer.source());
        assertEquals(FIXTURES.resolve("models/tinytok-base").normalize(), c.tokenizer.model().path());
        MergeConfig t = parse("""
                merge_method: linear
                models:
                  - model: models/tinytok-ft1
                    parameters: {weight: 1}
                tokenizer:
                  source: {model: models/tinytok-base}
                  tokens:
                    <extra_0>: {source: {model: {path: models/tinytok-ft1}}}
                """);
        assertEquals("model", t.tokenizer.tokens().get("<extra_0>").kind());
    }

    @Test
    void revisionsAndLoraSeparatorsParseAsInMergekit() {
        MergeConfig c = parse("merge_method: linear\nmodels:\n  - model: models/tiny-ft1@v1.0\n    parameters: {weight: 1}\n");
        assertEquals(FIXTURES.resolve("models/tiny-ft1").normalize(), c.slices.getFirst().sources().getFirst().model().path());
        CrucibleException twoAt = assertThrows(CrucibleException.class,
                () -> parse("merge_method: linear\nmodels:\n  - model: models/tiny-ft1@a@b\n"));
        assertTrue(twoAt.getMessage().contains("more than one '@'"), twoAt.getMessage());
        CrucibleException twoPlus = assertThrows(CrucibleException.class,
                () -> parse("merge_method: linear\nmodels:\n  - model: models/tiny-ft1+a+b\n"));
        assertTrue(twoPlus.getMessage().contains("cannot parse 'models/tiny-ft1+a+b'"), twoPlus.getMessage());
    }

    @Test
    void unknownKeysAreIgnoredWithAWarningNamingThem() {
        MergeConfig c = parse(SHORT + "architecture: MistralForCausalLM\nparamters: {lambda: 2}\n"
                .concat("slices_note: x\n"));
        assertEquals(List.of("paramters", "architecture", "slices_note").stream().sorted().toList(),
                c.warnings.stream().map(w -> w.replaceAll(".*unknown key '([^']+)'.*", "$1")).sorted().toList());
        assertEquals(planText(parse(SHORT)), planText(c));
        MergeConfig nested = parse("""
                merge_method: linear
                models:
                  - model: models/tiny-ft1
                    weight: 1
                    parameters:
                      weight: [{filter: mlp, value: 1, note: x}, {value: 2}]
                """);
        assertEquals(List.of("line 4: models[0]: unknown key 'weight'", "line 6: models[0].parameters.weight[0]: unknown key 'note'"),
                nested.warnings.stream().map(w -> w.substring(0, w.indexOf(" ignored"))).toList());
    }

    @Test
    void parametersMergekitNeverReadsAreWarnedAboutNotRefused() {
        MergeConfig c = parse("""
                merge_method: della
                base_model: models/tiny-base
                models:
                  - model: models/tiny-ft1
                    parameters: {weight: 0.5, density: 0.6, lambda: 0.85, gamma: 0.1}
                parameters: {normalize: true, t: 0.3}
                """);
        List<String> w = MergePlan.ignoredParameters(c, MergeMethods.get("della"));
        assertEquals(3, w.size(), w.toString());
        assertTrue(w.get(0).startsWith("parameters.t: ignored, as mergekit ignores it: merge_method della does not use 't'"),
                w.get(0));
        assertTrue(w.get(1).startsWith("models[0].parameters.lambda: ignored, as mergekit ignores it: 'lambda' applies"
                + " to the whole merge_method della"), w.get(1));
        assertTrue(w.get(2).contains("models[0].parameters.gamma: ignored"), w.get(2));
        try (MergePlan plan = MergePlan.build(c, false)) {
            assertEquals(1.0, plan.entries().getFirst().globalParameters().get("lambda")); // the default, not 0.85
            assertTrue(plan.warnings().containsAll(w));
        }
        List<String> stock = MergePlan.ignoredParameters(parse("""
                merge_method: model_stock
                base_model: models/tiny-base
                models:
                  - model: models/tiny-ft1
                  - model: models/tiny-ft2
                parameters: {normalize: true}
                """), MergeMethods.get("model_stock"));
        assertEquals(List.of("parameters.normalize: ignored, as mergekit ignores it: merge_method model_stock does not"
                + " use 'normalize' (it takes [filter_wise])"), stock);
    }

    @Test
    void valuesAreCoercedAsPydanticCoercesThem() {
        MergeConfig c = parse("""
                merge_method: linear
                models:
                  - model: models/tiny-ft1
                    parameters: {weight: "0.25"}
                  - model: models/tiny-ft2
                    parameters: {weight: [".5", 1e0]}
                parameters: {normalize: false}
                """);
        assertEquals(0.25, c.slices.getFirst().sources().get(0).parameters().get("weight"));
        assertEquals(List.of(0.5, 1.0), c.slices.getFirst().sources().get(1).parameters().get("weight"));
        CrucibleException e = assertThrows(CrucibleException.class, () -> parse(
                "merge_method: linear\nmodels:\n  - model: models/tiny-ft1\n    parameters: {weight: heavy}\n"));
        assertEquals("line 4: models[0].parameters.weight: expected a number, found string 'heavy'", e.getMessage());
        MergeConfig ranges = parse("""
                merge_method: passthrough
                slices:
                  - sources: [{model: models/tiny-ft1, layer_range: [0, 2.0]}]
                  - sources: [{model: models/tiny-ft1, layer_range: ["2", "4"]}]
                """);
        assertEquals(4, ranges.slices.get(1).sources().getFirst().layerRange()[1]);
        assertThrows(CrucibleException.class, () -> parse(
                "merge_method: passthrough\nslices:\n  - sources: [{model: models/tiny-ft1, layer_range: [0, 2.5]}]\n"));
    }

    @Test
    void modulesDefaultIsTheSlicesWithItsOwnParameterLevel() {
        String slices = """
                  - sources:
                      - {model: models/tiny-ft1, layer_range: [0, 4]}
                      - {model: models/tiny-ft2, layer_range: [0, 4], parameters: {weight: 0.3}}
                """;
        MergeConfig top = parse("merge_method: linear\nparameters: {weight: 0.7, normalize: false}\nslices:\n" + slices);
        MergeConfig module = parse("merge_method: linear\nparameters: {weight: 0.1, normalize: true}\nmodules:\n"
                + "  default:\n    parameters: {weight: 0.7, normalize: false}\n    slices:\n"
                + slices.indent(4));
        assertEquals(planText(top), planText(module));
        assertEquals("modules.default.", module.slicesKeyPrefix);
        CrucibleException vision = assertThrows(CrucibleException.class, () -> parse(
                "merge_method: linear\nmodules:\n  text_decoder:\n    models: [{model: models/tiny-ft1}]\n"));
        assertTrue(vision.getMessage().startsWith("line 2: modules: only the single module 'default'"), vision.getMessage());
        CrucibleException both = assertThrows(CrucibleException.class, () -> parse(
                "merge_method: linear\nmodels: [{model: models/tiny-ft1}]\nmodules:\n  default:\n"
                        + "    models: [{model: models/tiny-ft1}]\n"));
        assertTrue(both.getMessage().contains("exactly one of 'models', 'slices' or 'modules'"), both.getMessage());
    }

    @Test
    void repeatedKeysKeepTheLastAsPyYamlDoes() {
        MergeConfig c = parse("merge_method: slerp\nmodels:\n  - model: models/tiny-ft1\n  - model: models/tiny-ft2\n"
                + "base_model: models/tiny-ft1\nparameters: {t: 0.5}\nmerge_method: linear\n");
        assertEquals("linear", c.mergeMethod);
        assertEquals(Map.of(), c.slices.getFirst().parameters());
    }
}
