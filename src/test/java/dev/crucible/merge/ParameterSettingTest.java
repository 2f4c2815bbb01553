package dev.crucible.merge;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ParameterSettingTest {
    @Test
    void gradientsArePiecewiseLinearOverEvenlySpacedAnchors() {
        List<Object> g = List.of(0, 0.5, 0.3, 0.7, 1);
        assertEquals(0.0, ParameterSetting.evaluate(g, "x", 0.0));
        assertEquals(1.0, ParameterSetting.evaluate(g, "x", 1.0));
        assertEquals(0.5, (double) ParameterSetting.evaluate(g, "x", 0.25), 1e-12);
        assertEquals(0.4, (double) ParameterSetting.evaluate(g, "x", 0.375), 1e-12); // halfway from 0.5 to 0.3
        assertEquals(0.85, (double) ParameterSetting.evaluate(g, "x", 0.875), 1e-12);
    }

    @Test
    void firstMatchingFilterWinsAndValueWithoutFilterIsTheDefault() {
        List<Object> s = List.of(Map.of("filter", "self_attn", "value", 0.1), Map.of("filter", "attn", "value", 0.2),
                Map.of("value", List.of(1, 3)));
        assertEquals(0.1, ParameterSetting.evaluate(s, "model.layers.0.self_attn.q_proj.weight", 0.5));
        assertEquals(2.0, ParameterSetting.evaluate(s, "model.layers.0.mlp.up_proj.weight", 0.5));
        assertNull(ParameterSetting.evaluate(List.of(Map.of("filter", "mlp", "value", 1)), "model.norm.weight", 0));
        assertEquals(true, ParameterSetting.evaluate(true, "x", 0));
    }

    @Test
    void malformedSettingsNameTheirKey() {
        var e = assertThrows(CrucibleException.class,
                () -> ParameterSetting.normalize(List.of(Map.of("filter", 3, "value", 1)), "parameters.t", new ArrayList<>()));
        assertEquals("parameters.t[0].filter: expected a string (a substring of tensor names)", e.getMessage());
        assertThrows(CrucibleException.class, () -> ParameterSetting.normalize(List.of(1, Map.of("value", 1)), "p",
                new ArrayList<>()));
    }

    @Test
    void parametersFollowMergekitsPrecedence() {
        MergeConfig c = MergeConfig.parse("""
                merge_method: linear
                slices:
                  - sources:
                      - model: models/tiny-ft1
                        layer_range: [0, 2]
                        parameters: {weight: 0.9}
                      - model: models/tiny-ft2
                        layer_range: [0, 2]
                    parameters: {weight: [0.2, 0.4]}
                  - sources:
                      - model: models/tiny-ft1
                        layer_range: [2, 3]
                      - model: models/tiny-ft2
                        layer_range: [2, 3]
                parameters:
                  weight: 0.05
                  normalize: false
                """, MergeTestSupport.FIXTURES);
        try (MergePlan plan = MergePlan.build(c, false)) {
            MergePlan.Entry l1 = plan.entries().stream()
                    .filter(e -> e.name().equals("model.layers.1.mlp.up_proj.weight")).findFirst().orElseThrow();
            assertEquals(0.9, l1.modelParameters().get(0).get("weight"));   // source level
            assertEquals(0.4, l1.modelParameters().get(1).get("weight"));   // slice gradient at t = 1
            assertEquals(false, l1.globalParameters().get("normalize"));     // top level
            MergePlan.Entry l2 = plan.entries().stream()
                    .filter(e -> e.name().equals("model.layers.2.mlp.up_proj.weight")).findFirst().orElseThrow();
            assertEquals(0.05, l2.modelParameters().get(0).get("weight"));  // second slice: top level
            assertEquals(3, plan.outputConfig().get("num_hidden_layers").asInt());
        }
    }
}
