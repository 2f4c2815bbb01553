package dev.crucible.data.recipe;

import dev.crucible.ProgressBar;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The clustering of MinHash dedup, given every row's signature. For each LSH band, rows whose band values agree
 * form a bucket. Within a bucket, in row order, each row is linked to the first earlier row whose estimated Jaccard
 * (over the whole signature) reaches the threshold: a confirmed candidate pair. Linked rows form clusters
 * (connected components); the first row of each cluster stays and the others are near duplicates of it. So two
 * rows that share a band and are similar never both stay.
 *
 * <p>The rule depends only on a bucket's members and their order, so a distributed engine that groups the same
 * buckets finds the same links ({@link #links}) and hence the same clusters.
 */
final class NearDuplicates {
    private NearDuplicates() {
    }

    /** Receives a confirmed pair (earlier row, later row). */
    interface LinkSink {
        void link(int earlier, int later);
    }

    /**
     * The links of one bucket: {@code members} in ascending row order; {@code similarity} of two rows.
     */
    static void links(int[] members, int count, double threshold, Similarity similarity, LinkSink sink) {
        for (int j = 1; j < count; j++) {
            for (int i = 0; i < j; i++) {
                if (similarity.of(members[i], members[j]) >= threshold) {
                    sink.link(members[i], members[j]);
                    break;
                }
            }
        }
    }

    interface Similarity {
        double of(int x, int y);
    }

    /**
     * Clusters the rows in {@code rows} (those with a signature) and returns, per ordinal, the row it duplicates
     * (the first of its cluster), or -1 for rows that stay or have no signature.
     */
    static int[] resolve(Signatures sigs, BitSet rows, int n, LshParams lsh, double threshold, ProgressBar progress) {
        int[] parent = new int[n];
        for (int i = 0; i < n; i++) {
            parent[i] = i;
        }
        int count = rows.cardinality();
        long[] keys = new long[count];
        long[] sorted = new long[count];
        int[] ordinals = new int[count];
        for (int i = 0, o = rows.nextSetBit(0); o >= 0; o = rows.nextSetBit(o + 1)) {
            ordinals[i++] = o;
        }
        // composite sort key: the band key's high bits, then the ordinal (ascending row order within a bucket)
        int ordinalBits = Math.max(1, 32 - Integer.numberOfLeadingZeros(Math.max(1, n - 1)));
        long ordinalMask = (1L << ordinalBits) - 1;
        int[] members = new int[16];
        Similarity sim = sigs::similarity;
        LinkSink union = (a, b) -> union(parent, a, b);
        for (int band = 0; band < lsh.bands(); band++) {
            int from = band * lsh.rows();
            for (int i = 0; i < count; i++) {
                keys[i] = sigs.bandKey(ordinals[i], from, lsh.rows());
                sorted[i] = (keys[i] & ~ordinalMask) | i;
            }
            Arrays.parallelSort(sorted);
            int start = 0;
            while (start < count) {
                int end = start + 1;
                long high = sorted[start] & ~ordinalMask;
                while (end < count && (sorted[end] & ~ordinalMask) == high) {
                    end++;
                }
                if (end - start > 1) {
                    members = bucketsOf(sorted, start, end, ordinalMask, keys, ordinals, members, threshold, sim, union);
                }
                start = end;
            }
            progress.add(1, 0);
        }
        int[] keeper = new int[n];
        Arrays.fill(keeper, -1);
        for (int o = rows.nextSetBit(0); o >= 0; o = rows.nextSetBit(o + 1)) {
            int root = find(parent, o);
            if (root != o) {
                keeper[o] = root;
            }
        }
        return keeper;
    }

    /** Splits a run of equal truncated keys into its buckets of equal full keys and links each. */
    private static int[] bucketsOf(long[] sorted, int start, int end, long ordinalMask, long[] keys, int[] ordinals,
                                   int[] members, double threshold, Similarity sim, LinkSink union) {
        int size = end - start;
        if (members.length < size) {
            members = new int[Math.max(size, members.length * 2)];
        }
        long first = keys[(int) (sorted[start] & ordinalMask)];
        boolean same = true;
        for (int k = start; k < end && same; k++) {
            same = keys[(int) (sorted[k] & ordinalMask)] == first;
        }
        if (same) {
            for (int k = 0; k < size; k++) {
                members[k] = ordinals[(int) (sorted[start + k] & ordinalMask)];
            }
            links(members, size, threshold, sim, union);
            return members;
        }
        // rare: different full keys share the truncated bits; group them by full key, keeping row order
        long[] byKey = new long[size];
        for (int k = 0; k < size; k++) {
            byKey[k] = sorted[start + k] & ordinalMask;
        }
        Long[] boxed = Arrays.stream(byKey).boxed().toArray(Long[]::new);
        Arrays.sort(boxed, (x, y) -> {
            int c = Long.compare(keys[x.intValue()], keys[y.intValue()]);
            return c != 0 ? c : Long.compare(x, y);
        });
        int s = 0;
        while (s < size) {
            int e = s + 1;
            while (e < size && keys[boxed[e].intValue()] == keys[boxed[s].intValue()]) {
                e++;
            }
            for (int k = s; k < e; k++) {
                members[k - s] = ordinals[boxed[k].intValue()];
            }
            links(members, e - s, threshold, sim, union);
            s = e;
        }
        return members;
    }

    /**
     * The reason of a near duplicate: the row it duplicates (its cluster's first) and their estimated Jaccard, which
     * is below the threshold only when the two are linked through other rows of the cluster.
     */
    static String reason(String keptWhere, double similarity, double threshold) {
        String j = String.format(java.util.Locale.ROOT, "%.2f", similarity);
        return similarity >= threshold ? "near-duplicate of " + keptWhere + " (estimated Jaccard " + j + ")"
                : "near-duplicate of " + keptWhere + " through a chain of similar rows (estimated Jaccard " + j
                + " with it)";
    }

    /** Union by smaller ordinal, so every root is its cluster's first row. */
    private static void union(int[] parent, int a, int b) {
        int ra = find(parent, a);
        int rb = find(parent, b);
        if (ra < rb) {
            parent[rb] = ra;
        } else if (rb < ra) {
            parent[ra] = rb;
        }
    }

    static int find(int[] parent, int x) {
        int root = x;
        while (parent[root] != root) {
            root = parent[root];
        }
        while (parent[x] != root) {
            int next = parent[x];
            parent[x] = root;
            x = next;
        }
        return root;
    }
}
