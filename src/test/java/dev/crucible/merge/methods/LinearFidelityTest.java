package dev.crucible.merge.methods;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.crucible.merge.methods.MergekitFixtures.p;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LinearFidelityTest {
    @Test
    void linearIsBitIdenticalToMergekit() {
        var c = new MergekitFixtures.Case("linear", "linear").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p("weight", 0.5), p("weight", 0.3), p("weight", 0.2)));
        for (var r : c.compare()) {
            assertEquals(r.total(), r.identical(), r.tensor());
        }
    }
}
