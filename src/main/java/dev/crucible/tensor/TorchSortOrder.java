package dev.crucible.tensor;

/**
 * The order in which torch's CPU {@code sort}/{@code argsort} (unstable: libstdc++'s {@code std::sort}, an
 * introsort with median-of-three pivots, 16-element insertion-sort threshold and heapsort fallback) leaves
 * elements of equal key. Reproducing it bit for bit matters where many keys tie, as bf16 magnitudes do: which of
 * the tied elements fall inside a top-k cut is decided by this order. O(n log n): used for small tensors only.
 */
public final class TorchSortOrder {
    private static final int THRESHOLD = 16;

    private final float[] keys;
    private final int[] idx;
    private final boolean descending;

    private TorchSortOrder(float[] keys, int[] idx, boolean descending) {
        this.keys = keys;
        this.idx = idx;
        this.descending = descending;
    }

    /** Indices of {@code keys[0..n)} in torch's sorted order (keys are not modified). */
    public static int[] argsort(float[] keys, int n, boolean descending) {
        float[] k = java.util.Arrays.copyOf(keys, n);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        if (n > 1) {
            TorchSortOrder s = new TorchSortOrder(k, idx, descending);
            s.introsortLoop(0, n, 2 * (31 - Integer.numberOfLeadingZeros(n)));
            s.finalInsertionSort(0, n);
        }
        return idx;
    }

    /**
     * The indices torch's CPU {@code topk(largest=True)} returns (as a set): {@code std::partial_sort} when
     * {@code 64·k <= n}, else {@code std::nth_element} (introselect), over (value, index) pairs.
     */
    public static int[] topkIndices(float[] keys, int n, int k) {
        float[] kk = java.util.Arrays.copyOf(keys, n);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        TorchSortOrder s = new TorchSortOrder(kk, idx, true);
        if (k > 0 && k < n) {
            if ((long) k * 64 <= n) {
                s.heapSelect(0, k, n);
            } else {
                s.introselect(0, k - 1, n, 2 * (31 - Integer.numberOfLeadingZeros(n)));
            }
        }
        return java.util.Arrays.copyOf(idx, Math.min(k, n));
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
                float k = keys[i];
                int v = idx[i];
                keys[i] = keys[first];
                idx[i] = idx[first];
                adjustHeap(first, 0, middle - first, k, v);
            }
        }
    }

    private void makeHeap(int first, int last) {
        int len = last - first;
        if (len < 2) {
            return;
        }
        for (int parent = (len - 2) / 2; ; parent--) {
            adjustHeap(first, parent, len, keys[first + parent], idx[first + parent]);
            if (parent == 0) {
                return;
            }
        }
    }

    private boolean less(float a, float b) {
        if (descending) {
            return (Float.isNaN(a) && !Float.isNaN(b)) || a > b;
        }
        return (!Float.isNaN(a) && Float.isNaN(b)) || a < b;
    }

    private boolean lessAt(int i, int j) {
        return less(keys[i], keys[j]);
    }

    private void swap(int i, int j) {
        float k = keys[i];
        keys[i] = keys[j];
        keys[j] = k;
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }

    private void introsortLoop(int first, int last, int depth) {
        while (last - first > THRESHOLD) {
            if (depth == 0) {
                heapSort(first, last);
                return;
            }
            depth--;
            int cut = partitionPivot(first, last);
            introsortLoop(cut, last, depth);
            last = cut;
        }
    }

    private int partitionPivot(int first, int last) {
        int mid = first + (last - first) / 2;
        moveMedianToFirst(first, first + 1, mid, last - 1);
        return unguardedPartition(first + 1, last, first);
    }

    private void moveMedianToFirst(int result, int a, int b, int c) {
        if (lessAt(a, b)) {
            if (lessAt(b, c)) {
                swap(result, b);
            } else if (lessAt(a, c)) {
                swap(result, c);
            } else {
                swap(result, a);
            }
        } else if (lessAt(a, c)) {
            swap(result, a);
        } else if (lessAt(b, c)) {
            swap(result, c);
        } else {
            swap(result, b);
        }
    }

    private int unguardedPartition(int first, int last, int pivot) {
        while (true) {
            while (lessAt(first, pivot)) {
                first++;
            }
            last--;
            while (lessAt(pivot, last)) {
                last--;
            }
            if (first >= last) {
                return first;
            }
            swap(first, last);
            first++;
        }
    }

    private void finalInsertionSort(int first, int last) {
        if (last - first > THRESHOLD) {
            insertionSort(first, first + THRESHOLD);
            for (int i = first + THRESHOLD; i < last; i++) {
                unguardedLinearInsert(i);
            }
        } else {
            insertionSort(first, last);
        }
    }

    private void insertionSort(int first, int last) {
        for (int i = first + 1; i < last; i++) {
            if (lessAt(i, first)) {
                float k = keys[i];
                int v = idx[i];
                System.arraycopy(keys, first, keys, first + 1, i - first);
                System.arraycopy(idx, first, idx, first + 1, i - first);
                keys[first] = k;
                idx[first] = v;
            } else {
                unguardedLinearInsert(i);
            }
        }
    }

    private void unguardedLinearInsert(int last) {
        float k = keys[last];
        int v = idx[last];
        int next = last - 1;
        while (less(k, keys[next])) {
            keys[last] = keys[next];
            idx[last] = idx[next];
            last = next;
            next--;
        }
        keys[last] = k;
        idx[last] = v;
    }

    private void heapSort(int first, int last) {
        makeHeap(first, last);
        while (last - first > 1) {
            last--;
            float k = keys[last];
            int v = idx[last];
            keys[last] = keys[first];
            idx[last] = idx[first];
            adjustHeap(first, 0, last - first, k, v);
        }
    }

    private void adjustHeap(int first, int hole, int len, float key, int value) {
        int top = hole;
        int child = hole;
        while (child < (len - 1) / 2) {
            child = 2 * (child + 1);
            if (lessAt(first + child, first + child - 1)) {
                child--;
            }
            keys[first + hole] = keys[first + child];
            idx[first + hole] = idx[first + child];
            hole = child;
        }
        if ((len & 1) == 0 && child == (len - 2) / 2) {
            child = 2 * (child + 1);
            keys[first + hole] = keys[first + child - 1];
            idx[first + hole] = idx[first + child - 1];
            hole = child - 1;
        }
        int parent = (hole - 1) / 2;
        while (hole > top && less(keys[first + parent], key)) {
            keys[first + hole] = keys[first + parent];
            idx[first + hole] = idx[first + parent];
            hole = parent;
            parent = (hole - 1) / 2;
        }
        keys[first + hole] = key;
        idx[first + hole] = value;
    }
}
