package dev.crucible.data;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ValidationSplitTest {
    static final List<Integer> ITEMS = IntStream.range(0, 101).boxed().toList();

    @Test
    void fractionRoundsUpAndCountIsExact() {
        assertEquals(6, ValidationSplit.split(ITEMS, 0.05, 1).validation().size()); // ceil(5.05)
        assertEquals(95, ValidationSplit.split(ITEMS, 0.05, 1).train().size());
        assertEquals(10, ValidationSplit.split(ITEMS, 10, 1).validation().size());
        assertEquals(0, ValidationSplit.split(ITEMS, 0, 1).validation().size());
        assertEquals(ITEMS, ValidationSplit.split(ITEMS, 0, 1).train());
    }

    @Test
    void deterministicBySeedDisjointAndOrdered() {
        var a = ValidationSplit.split(ITEMS, 0.2, 42);
        var b = ValidationSplit.split(ITEMS, 0.2, 42);
        var c = ValidationSplit.split(ITEMS, 0.2, 43);
        assertEquals(a, b);
        assertNotEquals(a.validation(), c.validation());
        List<Integer> all = new ArrayList<>(a.train());
        all.addAll(a.validation());
        all.sort(null);
        assertEquals(ITEMS, all);
        assertEquals(a.train().stream().sorted().toList(), a.train());
        assertEquals(a.validation().stream().sorted().toList(), a.validation());
    }

    @Test
    void sizesThatLeaveNoTrainingDataAreRejected() {
        CrucibleException e = assertThrows(CrucibleException.class, () -> ValidationSplit.split(ITEMS, 101, 0));
        assertTrue(e.getMessage().contains("leaves no training examples"), e.getMessage());
        assertThrows(CrucibleException.class, () -> ValidationSplit.split(ITEMS, 2.5, 0));
        assertThrows(CrucibleException.class, () -> ValidationSplit.split(ITEMS, -0.1, 0));
    }
}
