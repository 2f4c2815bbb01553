package dev.crucible.merge;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The condition number behind mergekit-moe's degenerate-router warning. */
class RouterConditioningTest {
    @Test
    void conditionNumbersOfKnownMatrices() {
        assertEquals(1, RouterConditioning.conditionNumber(new float[] {1, 0, 0, 0, 1, 0}, 2), 1e-12);
        assertEquals(3, RouterConditioning.conditionNumber(new float[] {3, 0, 0, 1}, 2), 1e-12);
        // [[1, 1], [0, 1]]: singular values phi and 1/phi
        double phi = (1 + Math.sqrt(5)) / 2;
        assertEquals(phi * phi, RouterConditioning.conditionNumber(new float[] {1, 1, 0, 1}, 2), 1e-9);
        // more rows than columns uses the other Gram matrix: [[1, 0], [0, 2], [0, 0]]
        assertEquals(2, RouterConditioning.conditionNumber(new float[] {1, 0, 0, 2, 0, 0}, 3), 1e-12);
        assertTrue(Double.isInfinite(RouterConditioning.conditionNumber(new float[] {1, 2, 1, 2}, 2)));
    }
}
