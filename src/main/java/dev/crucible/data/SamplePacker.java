package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Sample packing by first-fit decreasing: examples sorted by length (longest first, ties in dataset order) go
 * into the first sequence with room for them, a new one when none has. Every token of every example lands in
 * exactly one sequence; examples are never split. Within a sequence the examples keep dataset order, and the
 * sequences come in the order they were opened, so the result depends only on the input.
 */
public final class SamplePacker {
    private SamplePacker() {
    }

    public static List<PackedSequence> pack(List<SftExample> examples, int sequenceLen) {
        Integer[] order = new Integer[examples.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            if (examples.get(i).length() > sequenceLen) {
                throw new CrucibleException("example " + i + " has " + examples.get(i).length()
                        + " tokens, more than sequence_len " + sequenceLen + " (truncate before packing)");
            }
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -examples.get(i).length())
                .thenComparingInt(i -> i));
        List<List<Integer>> bins = new ArrayList<>();
        int[] free = new int[16];
        for (int i : order) {
            int len = examples.get(i).length();
            int bin = 0;
            while (bin < bins.size() && free[bin] < len) {
                bin++;
            }
            if (bin == bins.size()) {
                bins.add(new ArrayList<>());
                if (bin == free.length) {
                    free = Arrays.copyOf(free, 2 * free.length);
                }
                free[bin] = sequenceLen;
            }
            bins.get(bin).add(i);
            free[bin] -= len;
        }
        List<PackedSequence> out = new ArrayList<>(bins.size());
        for (List<Integer> bin : bins) {
            bin.sort(null);
            List<SftExample> members = new ArrayList<>(bin.size());
            for (int i : bin) {
                members.add(examples.get(i));
            }
            out.add(PackedSequence.pack(members));
        }
        return out;
    }

    /** Tokens over slots: the share of {@code sequences.size() * sequenceLen} that holds real tokens. */
    public static double fill(List<PackedSequence> sequences, int sequenceLen) {
        long tokens = 0;
        for (PackedSequence s : sequences) {
            tokens += s.length();
        }
        return sequences.isEmpty() ? 0 : (double) tokens / ((long) sequences.size() * sequenceLen);
    }
}
