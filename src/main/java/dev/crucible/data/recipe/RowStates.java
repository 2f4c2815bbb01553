package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where each row of an embedded run stands, by ordinal: a one-byte code (kept, or what removed it: {@code read},
 * {@code sample}, a step, {@code weight}), the reason of a removal, and for dedup removals the row kept in its place
 * and their similarity. Also the ordinal range of each input. Worker threads write codes of their own rows; the
 * pass's reading thread reads them after the batch is handed back.
 */
final class RowStates {
    static final byte KEPT = 0;
    static final byte READ = 1;
    static final byte SAMPLE = 2;
    /** Code of step {@code s} is {@code FIRST_STEP + s}; the weight draw's is {@code FIRST_STEP + steps}. */
    static final int FIRST_STEP = 3;

    private final List<Step> steps;
    private final byte[] code;
    private final int[] inputStart;
    private final Map<Integer, String> reasons = new ConcurrentHashMap<>();
    private int[] partner;
    private float[] similarity;
    private int n;
    private int lastInput = -1;

    /** @param capacity the row count taken before the run (rows beyond it are an error) */
    RowStates(int capacity, int inputs, List<Step> steps) {
        this.code = new byte[capacity];
        this.inputStart = new int[inputs + 1];
        this.steps = steps;
    }

    /** The names rows are removed by, indexed by code. */
    static List<String> removers(List<Step> steps) {
        List<String> names = new ArrayList<>(List.of("", "read", "sample"));
        steps.forEach(s -> names.add(s.name()));
        names.add("weight");
        return names;
    }

    int capacity() {
        return code.length;
    }

    int rows() {
        return n;
    }

    int inputStart(int input) {
        return inputStart[input];
    }

    /** Rows beyond the count taken at the start mean a file grew while the recipe ran. */
    void checkCounted(RawRow raw) {
        if (raw.ordinal() >= code.length) {
            throw new CrucibleException(raw.where() + ": the inputs have more rows than when the run started (a file"
                    + " changed while the recipe ran)");
        }
    }

    /** Notes the input of a row of the first pass, in row order (inputs without rows get empty ranges). */
    void seen(RawRow raw) {
        while (lastInput < raw.input()) {
            inputStart[++lastInput] = raw.ordinal();
        }
    }

    /** Ends the first pass: {@code rows} rows in all. */
    void counted(int rows) {
        n = rows;
        for (int i = lastInput + 1; i < inputStart.length; i++) {
            inputStart[i] = rows;
        }
    }

    boolean kept(int o) {
        return code[o] == KEPT;
    }

    int code(int o) {
        return code[o];
    }

    void remove(int o, int removal, String reason) {
        code[o] = (byte) removal;
        reasons.put(o, reason);
    }

    /** Keeps the {@code k} readable rows of input {@code in} with the smallest keys; the others are removed by sample. */
    void drawSample(int in, long[] keys, Number amount, long seed) {
        int from = inputStart[in];
        int to = inputStart[in + 1];
        long[] eligible = new long[to - from];
        int m = 0;
        for (int o = from; o < to; o++) {
            if (code[o] == KEPT) {
                eligible[m++] = keys[o];
            }
        }
        long k = RowKeys.count(amount, m);
        if (k >= m) {
            return;
        }
        long threshold = k == 0 ? 0 : RowKeys.threshold(eligible, m, k);
        String reason = RowKeys.sampleReason(amount, in, k, m, seed);
        for (int o = from; o < to; o++) {
            if (code[o] == KEPT && (k == 0 || !RowKeys.drawn(keys[o], threshold))) {
                remove(o, SAMPLE, reason);
            }
        }
    }

    /** Exact dedup over the rows with a key: each later row with the same text hash names the first. */
    long resolveExact(int step, long[][] hashes, byte[] keyed) {
        dedupArrays();
        LongIntMap first = new LongIntMap(1 << 16);
        Map<String, Integer> collisions = new HashMap<>();
        long candidates = 0;
        for (int o = 0; o < n; o++) {
            if (keyed[o] == 0) {
                continue;
            }
            candidates++;
            int q = first.putIfAbsent(hashes[0][o], o);
            if (q != o && hashes[1][q] != hashes[1][o]) {
                q = collisions.merge(hashes[0][o] + ":" + hashes[1][o], o, Math::min);
            }
            if (q != o) {
                code[o] = (byte) (FIRST_STEP + step);
                partner[o] = q;
                similarity[o] = 1;
            }
        }
        return candidates;
    }

    /** MinHash dedup over the rows with a signature ({@link NearDuplicates}). */
    long resolveNear(int step, Step.MinHashDedup m, Signatures sigs, byte[] keyed, ProgressBar bar) {
        dedupArrays();
        BitSet rows = new BitSet(n);
        for (int o = 0; o < n; o++) {
            if (keyed[o] != 0) {
                rows.set(o);
            }
        }
        int[] keeper = NearDuplicates.resolve(sigs, rows, n, m.lsh(), m.threshold(), bar);
        for (int o = rows.nextSetBit(0); o >= 0; o = rows.nextSetBit(o + 1)) {
            if (keeper[o] >= 0) {
                code[o] = (byte) (FIRST_STEP + step);
                partner[o] = keeper[o];
                similarity[o] = (float) sigs.similarity(o, keeper[o]);
            }
        }
        return rows.cardinality();
    }

    private void dedupArrays() {
        if (partner == null) {
            partner = new int[code.length];
            similarity = new float[code.length];
        }
    }

    private boolean byDedup(int c) {
        return c >= FIRST_STEP && c < FIRST_STEP + steps.size() && steps.get(c - FIRST_STEP).global();
    }

    /** The rows that dedups kept in place of others (their locations go into the others' reasons). */
    BitSet partners() {
        BitSet partners = new BitSet();
        for (int o = 0; o < n; o++) {
            if (byDedup(code[o])) {
                partners.set(partner[o]);
            }
        }
        return partners;
    }

    /** Why row {@code o} was removed; {@code partnerWhere} locates the rows dedups kept. */
    String reason(int o, Map<Integer, String> partnerWhere) {
        if (byDedup(code[o])) {
            return RowSteps.dedupReason(steps.get(code[o] - FIRST_STEP), partnerWhere.get(partner[o]), similarity[o]);
        }
        return reasons.get(o);
    }

    /** Per input, rows by code. */
    long[][] counts(int codes) {
        long[][] counts = new long[inputStart.length - 1][codes];
        for (int in = 0; in < counts.length; in++) {
            for (int o = inputStart[in]; o < inputStart[in + 1]; o++) {
                counts[in][code[o]]++;
            }
        }
        return counts;
    }
}
