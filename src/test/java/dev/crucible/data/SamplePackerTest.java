package dev.crucible.data;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplePackerTest {

    /** Example {@code k} of length n: ids 1000k + position, so every token says where it came from. */
    static SftExample example(int k, int n, SplittableRandom random) {
        int[] ids = new int[n];
        int[] labels = new int[n];
        for (int p = 0; p < n; p++) {
            ids[p] = 1000 * k + p;
            labels[p] = random.nextBoolean() ? ids[p] : SftExample.IGNORE_INDEX;
        }
        return new SftExample(ids, labels);
    }

    @Test
    void firstFitDecreasingOnAKnownInstance() {
        SplittableRandom r = new SplittableRandom(1);
        List<SftExample> ex = new ArrayList<>();
        for (int len : new int[] {5, 3, 7, 2, 4, 1}) {
            ex.add(example(ex.size(), len, r));
        }
        // sorted: 7(#2) 5(#0) 4(#4) 3(#1) 2(#3) 1(#5); capacity 8 -> [7,1] [5,3] [4,2]
        List<PackedSequence> packs = SamplePacker.pack(ex, 8);
        assertEquals(3, packs.size());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 0}, packs.get(0).positionIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 1}, packs.get(0).sequenceIds());
        assertEquals(2000, packs.get(0).inputIds()[0]);
        assertEquals(5000, packs.get(0).inputIds()[7]);
        assertEquals(List.of(8, 8, 6), packs.stream().map(PackedSequence::length).toList());
        assertEquals(1000, packs.get(1).inputIds()[5]); // examples keep dataset order inside a pack (#0 then #1)
    }

    @Test
    void packingKeepsEveryTokenOnceAndNeverCrossesBoundaries() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 20; trial++) {
            int seqLen = 16 + r.nextInt(200);
            List<SftExample> ex = new ArrayList<>();
            int count = 1 + r.nextInt(300);
            long total = 0;
            for (int k = 0; k < count; k++) {
                SftExample e = example(k, 1 + r.nextInt(seqLen), r);
                ex.add(e);
                total += e.length();
            }
            List<PackedSequence> packs = SamplePacker.pack(ex, seqLen);
            boolean[] seen = new boolean[count];
            long tokens = 0;
            for (PackedSequence p : packs) {
                assertTrue(p.length() <= seqLen);
                tokens += p.length();
                int start = 0;
                for (int s = 0; s < p.examples(); s++) {
                    int k = p.inputIds()[start] / 1000;
                    SftExample e = ex.get(k);
                    assertFalse(seen[k], "example " + k + " packed twice");
                    seen[k] = true;
                    for (int q = 0; q < e.length(); q++) {
                        assertEquals(e.inputIds()[q], p.inputIds()[start + q]);
                        assertEquals(e.labels()[q], p.labels()[start + q]);
                        assertEquals(q, p.positionIds()[start + q]);
                        assertEquals(s, p.sequenceIds()[start + q]);
                    }
                    start += e.length();
                }
                assertEquals(p.length(), start);
                for (int i = 0; i < p.length(); i++) {
                    for (int j = 0; j < p.length(); j++) {
                        boolean sameExample = p.inputIds()[i] / 1000 == p.inputIds()[j] / 1000;
                        assertEquals(j <= i && sameExample, p.attends(i, j));
                    }
                }
            }
            assertEquals(total, tokens);
            for (boolean s : seen) {
                assertTrue(s);
            }
            // first-fit decreasing never opens a pack while an earlier one could take the example: at most one
            // pack is half empty or emptier
            long halfEmpty = packs.stream().filter(p -> p.length() <= seqLen / 2).count();
            assertTrue(halfEmpty <= 1, "packs at most half full: " + halfEmpty);
            assertEquals(packs.size(), SamplePacker.pack(ex, seqLen).size());
        }
    }

    @Test
    void anExampleLongerThanTheSequenceIsRefused() {
        SftExample e = example(0, 9, new SplittableRandom(0));
        CrucibleException x = assertThrows(CrucibleException.class, () -> SamplePacker.pack(List.of(e), 8));
        assertTrue(x.getMessage().contains("9 tokens, more than sequence_len 8"), x.getMessage());
    }

    @Test
    void batchesPadToTheLongestWithIgnoredLabelsAndAPaddingSegment() {
        SplittableRandom r = new SplittableRandom(3);
        SftExample a = example(1, 5, r);
        SftExample b = example(2, 3, r);
        SftExample c = example(3, 2, r);
        List<PackedSequence> rows = List.of(PackedSequence.of(a), PackedSequence.pack(List.of(b, c)),
                PackedSequence.of(c));
        Batches.Batch batch = Batches.collate(rows, 0);
        assertEquals(3, batch.rows());
        assertEquals(5, batch.seqLen());
        assertArrayEquals(a.inputIds(), Arrays.copyOfRange(batch.inputIds(), 0, 5));
        assertArrayEquals(new int[] {3000, 3001, 0, 0, 0}, Arrays.copyOfRange(batch.inputIds(), 10, 15));
        assertArrayEquals(new int[] {-100, -100, -100}, Arrays.copyOfRange(batch.labels(), 12, 15));
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 0, 1, 0, 1, 2}, Arrays.copyOfRange(batch.positionIds(), 5, 15));
        assertArrayEquals(new int[] {0, 0, 0, 1, 1, 0, 0, 1, 1, 1}, Arrays.copyOfRange(batch.sequenceIds(), 5, 15));
        assertTrue(batch.attends(1, 4, 3));
        assertFalse(batch.attends(1, 3, 2));
        assertFalse(batch.attends(2, 2, 1)); // padding never sees the example
        assertTrue(batch.attends(2, 2, 2));
    }
}
