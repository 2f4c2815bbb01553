package dev.crucible.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The order in which torch's CPU {@code sort}/{@code argsort} and {@code topk} leave elements of equal key, at every
 * size. Reproducing it bit for bit matters where many keys tie, as bf16 magnitudes do: which of the tied elements
 * fall inside a top-k cut is decided by this order.
 *
 * <p>The rule (torch 2.13 CPU, read from ATen's {@code SortingKernel.cpp} and {@code TopKImpl.h}, and checked
 * against torch on up to millions of entries): an unstable {@code sort} of a float tensor is libstdc++'s
 * {@code std::sort} over (value, index) pairs at any size (an introsort: median-of-three pivot moved to the front,
 * unguarded partition, recursion on the right part and a loop on the left, depth limit {@code 2·floor(log2 n)} then
 * heapsort, ranges of at most 16 left for one final insertion sort). {@code topk} is {@code std::partial_sort}
 * (heap select) when {@code 64·k <= n}, else {@code std::nth_element} (introselect). A torch built with
 * {@code USE_X86_SIMD_SORT} would sort float32 with x86-simd-sort instead, whose tie order differs; the 2.13 CPU
 * wheel the fixtures were made with has none compiled in.
 *
 * <p>Entries are packed in a {@code long}: the high 32 bits are an unsigned key that orders as torch's comparator
 * (NaN above everything, -0 equal to +0; complemented for a descending sort), the low 32 bits the element's index,
 * which never takes part in a comparison. A top-k cut ({@link Entries#selectSortedRange}) finds which elements a
 * full sort would place in a range of positions without sorting the rest: it follows the introsort only into the
 * parts that straddle the range's ends, so it costs expected linear time and gives the same set as the full sort.
 */
public final class TorchSortOrder {
    private static final int THRESHOLD = 16;
    private static final int BLOCK = 128;

    private final MemorySegment a;
    private final boolean pruned;
    private final int from;
    private final int to;
    private final int[] stopL = new int[BLOCK];
    private final int[] stopR = new int[BLOCK];

    private TorchSortOrder(MemorySegment a, boolean pruned, int from, int to) {
        this.a = a;
        this.pruned = pruned;
        this.from = from;
        this.to = to;
    }

    /** The packed entry of element {@code index} with key {@code key}, for an ascending or descending order. */
    static long entry(float key, int index, boolean descending) {
        int k;
        if (Float.isNaN(key)) {
            k = -1; // 0xFFFFFFFF: above +inf
        } else if (key == 0) {
            k = 0x80000000; // -0 and +0 compare equal
        } else {
            int bits = Float.floatToRawIntBits(key);
            k = bits >= 0 ? bits | 0x80000000 : ~bits;
        }
        if (descending) {
            k = ~k;
        }
        return (long) k << 32 | (index & 0xFFFFFFFFL);
    }

    /**
     * Packed entries in native memory (8 bytes each): a top-k cut of a tensor needs all of its entries at once,
     * which for a large vocabulary's embedding is gigabytes that the merge's small heap does not have (mergekit's
     * own argsort of the same tensor takes twice as much). Either in memory of their own, freed by {@link #close},
     * or in storage the caller reuses (fresh pages are slow to touch).
     */
    public static final class Entries implements AutoCloseable {
        private final Arena arena;
        private final MemorySegment segment;
        private final int n;
        private final boolean descending;

        public Entries(int n, boolean descending) {
            this.arena = Arena.ofConfined();
            this.segment = arena.allocate(bytes(n), 8);
            this.n = n;
            this.descending = descending;
        }

        /** Entries in {@code storage} (at least {@link #bytes}{@code (n)} bytes, 8-aligned), which the caller owns. */
        public Entries(MemorySegment storage, int n, boolean descending) {
            if (storage.byteSize() < bytes(n)) {
                throw new IllegalArgumentException(storage.byteSize() + " bytes cannot hold " + n + " entries");
            }
            this.arena = null;
            this.segment = storage;
            this.n = n;
            this.descending = descending;
        }

        /** The storage {@code n} entries take. */
        public static long bytes(int n) {
            return Math.max(8L, 8L * n);
        }

        /** Sets element {@code index}'s key; element i must sit at position i until a sort or selection runs. */
        public void put(int index, float key) {
            segment.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, index, entry(key, index, descending));
        }

        /** The key of the element at {@code position} (NaN for any NaN; 0 for -0). */
        public float keyAt(int position) {
            int k = (int) (segment.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, position) >>> 32);
            if (descending) {
                k = ~k;
            }
            if (k == -1) {
                return Float.NaN;
            }
            return Float.intBitsToFloat(k < 0 ? k & 0x7FFFFFFF : ~k);
        }

        /** The element (its original index) at {@code position}. */
        public int indexAt(int position) {
            return (int) segment.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, position);
        }

        /**
         * Rearranges the entries so that positions {@code [from, to)} hold exactly the elements torch's sort puts
         * there (their order inside the range, and the order outside it, are unspecified).
         */
        public void selectSortedRange(int from, int to) {
            if (from < to && n > 1) {
                new TorchSortOrder(segment, true, from, to).introsortLoop(0, n, depthLimit(n));
            }
        }

        /** torch's full sort order. */
        void sort() {
            if (n > 1) {
                TorchSortOrder s = new TorchSortOrder(segment, false, 0, n);
                s.introsortLoop(0, n, depthLimit(n));
                s.insertionSort(0, n); // __final_insertion_sort
            }
        }

        /** The first {@code k} positions as topk leaves them: heap select when {@code 64·k <= n}, else introselect. */
        void topk(int k) {
            if (k > 0 && k < n) {
                TorchSortOrder s = new TorchSortOrder(segment, false, 0, n);
                if ((long) k * 64 <= n) {
                    s.heapSelect(0, k, n);
                } else {
                    s.introselect(0, k - 1, n, depthLimit(n));
                }
            }
        }

        int[] indices(int count) {
            int[] out = new int[count];
            for (int i = 0; i < count; i++) {
                out[i] = indexAt(i);
            }
            return out;
        }

        @Override
        public void close() {
            if (arena != null) {
                arena.close();
            }
        }
    }

    private static Entries entries(float[] keys, int n, boolean descending) {
        Entries e = new Entries(n, descending);
        for (int i = 0; i < n; i++) {
            e.put(i, keys[i]);
        }
        return e;
    }

    /** Indices of {@code keys[0..n)} in torch's sorted order (keys are not modified). */
    public static int[] argsort(float[] keys, int n, boolean descending) {
        try (Entries e = entries(keys, n, descending)) {
            e.sort();
            return e.indices(n);
        }
    }

    /**
     * The indices torch's CPU {@code topk(largest=True)} returns (as a set): {@code std::partial_sort} when
     * {@code 64·k <= n}, else {@code std::nth_element} (introselect), over (value, index) pairs.
     */
    public static int[] topkIndices(float[] keys, int n, int k) {
        try (Entries e = entries(keys, n, true)) {
            e.topk(k);
            return e.indices(Math.min(k, n));
        }
    }

    private static int depthLimit(int n) {
        return 2 * (31 - Integer.numberOfLeadingZeros(n));
    }

    private long get(int i) {
        return a.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
    }

    private void set(int i, long v) {
        a.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, v);
    }

    private static boolean less(long x, long y) {
        return x >>> 32 < y >>> 32;
    }

    private boolean lessAt(int i, int j) {
        return less(get(i), get(j));
    }

    private void swap(int i, int j) {
        long t = get(i);
        set(i, get(j));
        set(j, t);
    }

    /** Whether the order inside {@code [first, last)} can decide which elements land in {@code [from, to)}. */
    private boolean wanted(int first, int last) {
        return !pruned || (first < from && from < last) || (first < to && to < last);
    }

    /**
     * libstdc++'s {@code __introsort_loop}. When pruned it skips the ranges no end of {@code [from, to)} falls
     * inside (their elements stay inside them whatever the rest of the sort does), and gives the parts of at most
     * 16 elements that an end falls inside the final insertion sort right away: that sort cannot move an element
     * out of such a part (every element left of a partition is not greater than every element right of it, and
     * insertion moves an element only past strictly greater ones).
     */
    private void introsortLoop(int first, int last, int depth) {
        while (last - first > THRESHOLD) {
            if (!wanted(first, last)) {
                return;
            }
            if (depth == 0) {
                heapSort(first, last);
                return;
            }
            depth--;
            int cut = partitionPivot(first, last);
            introsortLoop(cut, last, depth);
            last = cut;
        }
        if (pruned && wanted(first, last)) {
            insertionSort(first, last);
        }
    }

    private int partitionPivot(int first, int last) {
        int mid = first + (last - first) / 2;
        moveMedianToFirst(first, first + 1, mid, last - 1);
        return unguardedPartition(first + 1, last, first);
    }

    private void moveMedianToFirst(int result, int x, int y, int z) {
        if (lessAt(x, y)) {
            if (lessAt(y, z)) {
                swap(result, y);
            } else if (lessAt(x, z)) {
                swap(result, z);
            } else {
                swap(result, x);
            }
        } else if (lessAt(x, z)) {
            swap(result, x);
        } else if (lessAt(y, z)) {
            swap(result, z);
        } else {
            swap(result, y);
        }
    }

    /**
     * libstdc++'s {@code __unguarded_partition}: the left scan stops at keys not less than the pivot, the right
     * scan at keys not greater, and the two stoppers are swapped until the scans cross. Which pairs get swapped
     * depends only on the original positions of the stoppers (the k-th from the left with the k-th from the
     * right), so on long ranges they are found a block at a time without data-dependent branches (as in
     * BlockQuicksort) and swapped in the same order; the scalar loop takes over where the blocks would meet.
     */
    private int unguardedPartition(int first, int last, int pivot) {
        long p = get(pivot);
        if (last - first >= 4 * BLOCK) {
            long pk = p >>> 32;
            int left = first; // positions [left, right) are not scanned yet
            int right = last;
            int baseL = 0;
            int baseR = 0;
            int il = 0;
            int nl = 0;
            int ir = 0;
            int nr = 0;
            while (true) {
                if (il == nl) {
                    if (right - left < BLOCK) {
                        break;
                    }
                    nl = 0;
                    for (int i = 0; i < BLOCK; i++) {
                        stopL[nl] = i;
                        nl += (get(left + i) >>> 32) >= pk ? 1 : 0;
                    }
                    il = 0;
                    baseL = left;
                    left += BLOCK;
                }
                if (ir == nr) {
                    if (right - left < BLOCK) {
                        break;
                    }
                    nr = 0;
                    for (int i = 0; i < BLOCK; i++) {
                        stopR[nr] = i;
                        nr += (get(right - 1 - i) >>> 32) <= pk ? 1 : 0;
                    }
                    ir = 0;
                    baseR = right - 1;
                    right -= BLOCK;
                }
                int m = Math.min(nl - il, nr - ir);
                for (int j = 0; j < m; j++) {
                    swap(baseL + stopL[il + j], baseR - stopR[ir + j]);
                }
                il += m;
                ir += m;
            }
            // the scalar loop's state after the same swaps: its scans would skip straight to these stoppers
            first = il < nl ? baseL + stopL[il] : left;
            last = ir < nr ? baseR - stopR[ir] + 1 : right;
        }
        while (true) {
            while (less(get(first), p)) {
                first++;
            }
            last--;
            while (less(p, get(last))) {
                last--;
            }
            if (first >= last) {
                return first;
            }
            swap(first, last);
            first++;
        }
    }

    /** A stable insertion sort of {@code [first, last)}: what {@code __final_insertion_sort} does to it. */
    private void insertionSort(int first, int last) {
        for (int i = first + 1; i < last; i++) {
            long v = get(i);
            int j = i;
            while (j > first && less(v, get(j - 1))) {
                set(j, get(j - 1));
                j--;
            }
            set(j, v);
        }
    }

    private void introselect(int first, int nth, int last, int depth) {
        while (last - first > 3) {
            if (depth == 0) {
                heapSelect(first, nth + 1, last);
                swap(first, nth);
                return;
            }
            depth--;
            int cut = partitionPivot(first, last);
            if (cut <= nth) {
                first = cut;
            } else {
                last = cut;
            }
        }
        insertionSort(first, last);
    }

    private void heapSelect(int first, int middle, int last) {
        makeHeap(first, middle);
        for (int i = middle; i < last; i++) {
            if (lessAt(i, first)) {
                long v = get(i);
                set(i, get(first));
                adjustHeap(first, 0, middle - first, v);
            }
        }
    }

    private void makeHeap(int first, int last) {
        int len = last - first;
        if (len < 2) {
            return;
        }
        for (int parent = (len - 2) / 2; ; parent--) {
            adjustHeap(first, parent, len, get(first + parent));
            if (parent == 0) {
                return;
            }
        }
    }

    private void heapSort(int first, int last) {
        makeHeap(first, last);
        while (last - first > 1) {
            last--;
            long v = get(last);
            set(last, get(first));
            adjustHeap(first, 0, last - first, v);
        }
    }

    private void adjustHeap(int first, int hole, int len, long value) {
        int top = hole;
        int child = hole;
        while (child < (len - 1) / 2) {
            child = 2 * (child + 1);
            if (lessAt(first + child, first + child - 1)) {
                child--;
            }
            set(first + hole, get(first + child));
            hole = child;
        }
        if ((len & 1) == 0 && child == (len - 2) / 2) {
            child = 2 * (child + 1);
            set(first + hole, get(first + child - 1));
            hole = child - 1;
        }
        int parent = (hole - 1) / 2;
        while (hole > top && less(get(first + parent), value)) {
            set(first + hole, get(first + parent));
            hole = parent;
            parent = (hole - 1) / 2;
        }
        set(first + hole, value);
    }
}
