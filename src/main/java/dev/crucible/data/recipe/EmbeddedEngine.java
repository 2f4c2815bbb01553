package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.model.Tokenizer;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs a recipe in this process ({@code engine: duckdb}): DuckDB reads and writes the columnar files, the steps run
 * on a fixed pool of threads. Rows are streamed from the input files once per pass and never held; what stays in
 * memory is one byte per row (kept, or which step removed it), the reasons of removed rows, and while a dedup step
 * is open its keys (16 bytes a row for exact, the signature for MinHash: 4 bytes per permutation).
 *
 * <p>Passes: the steps are cut after each dedup (which must see every row before deciding any). Each cut is one
 * pass that runs the row-by-row steps before the dedup and computes the dedup's keys, then the dedup decides. The
 * last pass runs the remaining row-by-row steps and writes the output, the removed rows and the report. A recipe
 * that samples an input first reads everything once to draw the sample; one whose weights drop or repeat a
 * fraction of rows decides its last steps in a pass of their own, since the draw needs each input's kept count.
 */
public final class EmbeddedEngine {
    private final Recipe recipe;
    private final PrintWriter err;
    private final boolean progress;
    private final int threads;
    private final List<Step> steps;
    private final RowStream stream;
    private final Tokenizer tokenizer;
    private final Benchmarks[] benchmarks;
    private final MinHash[] minhash;
    private final boolean stats;
    private final List<RowSteps> workers = Collections.synchronizedList(new ArrayList<>());
    private final ThreadLocal<RowSteps> local;
    private final List<RunResult.Timing> timings = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    private RowStates states;
    private final ReportStats before = new ReportStats();
    private final ReportStats after = new ReportStats();
    private Map<String, List<RunResult.Example>> examples = Map.of();
    private long[] weightThreshold;
    private boolean[] weightDraws;

    private EmbeddedEngine(Recipe recipe, PrintWriter err, boolean progress, int threads) {
        this.recipe = recipe;
        this.err = err;
        this.progress = progress;
        this.threads = threads;
        this.steps = recipe.steps();
        this.stream = new RowStream(recipe);
        this.stats = recipe.report() != null;
        this.benchmarks = new Benchmarks[steps.size()];
        this.minhash = new MinHash[steps.size()];
        for (int s = 0; s < steps.size(); s++) {
            if (steps.get(s) instanceof Step.Decontaminate d) {
                benchmarks[s] = Benchmarks.load(d.against(), d.ngram(), stream::display);
            }
            if (steps.get(s) instanceof Step.MinHashDedup m) {
                minhash[s] = new MinHash(m.numPerm(), m.ngram(), m.seed(), m.hash());
            }
        }
        notes.addAll(RunSummary.stepNotes(recipe, benchmarks));
        this.tokenizer = recipe.tokenizer() == null ? null : Tokenizer.load(recipe.tokenizer());
        this.local = ThreadLocal.withInitial(() -> {
            RowSteps rs = new RowSteps(steps, tokenizer, benchmarks, minhash);
            workers.add(rs);
            return rs;
        });
    }

    /**
     * Runs the recipe and publishes output, removed rows and report (each atomically, only once everything
     * succeeded). {@code err} receives the progress bars.
     */
    public static RunResult run(Recipe recipe, PrintWriter err, boolean progress, int threads) {
        EmbeddedEngine engine = new EmbeddedEngine(recipe, err, progress, threads);
        try {
            return engine.run();
        } finally {
            if (engine.tokenizer != null) {
                engine.tokenizer.close();
            }
        }
    }

    /**
     * {@code crucible data stats}: reads one dataset and writes the report of its statistics (the "before" side of a
     * recipe report), nothing else. Unreadable rows fail the run unless {@code skipErrors}; then they are counted.
     */
    public static RunResult statsReport(RecipeInput input, Path tokenizer, boolean skipErrors, Path report,
                                        boolean overwrite, PrintWriter err, boolean progress, int threads) {
        Path here = Path.of("").toAbsolutePath().resolve("stats");
        Recipe recipe = new Recipe(here, List.of(input), List.of(), null, null, report.toString(), tokenizer,
                Recipe.Engine.DUCKDB, 0, skipErrors, null, Map.of());
        recipe.checkOutputs(overwrite);
        EmbeddedEngine engine = new EmbeddedEngine(recipe, err, progress, threads);
        ExecutorService pool = Pipeline.pool(threads);
        try {
            engine.states = engine.newStates(engine.stream.count());
            engine.readAndSample(pool, 1, 1, engine.states.capacity());
            RunResult result = engine.result(new long[1]);
            RowFile.publishText(report, HtmlReport.render(null, result));
            return result;
        } finally {
            pool.shutdownNow();
            if (engine.tokenizer != null) {
                engine.tokenizer.close();
            }
        }
    }

    private RowStates newStates(long estimate) {
        return new RowStates((int) Math.min(Integer.MAX_VALUE - 8, Math.max(16, estimate)), recipe.inputs().size(), steps);
    }

    private RunResult run() {
        long estimate = stream.count();
        states = newStates(estimate);
        boolean sampling = recipe.inputs().stream().anyMatch(i -> i.sample() != null);
        boolean drawWeights = recipe.inputs().stream().anyMatch(i -> i.weight() != Math.floor(i.weight()));
        List<Integer> globals = new ArrayList<>();
        for (int s = 0; s < steps.size(); s++) {
            if (steps.get(s).global()) {
                globals.add(s);
            }
        }
        boolean tailDecided = drawWeights && hasLocalSteps(globals.isEmpty() ? 0 : globals.getLast() + 1);
        // the weight draw needs every input's row range before the last pass: some earlier pass must read them
        boolean readFirst = sampling || (drawWeights && globals.isEmpty() && !tailDecided);
        int passes = (readFirst ? 1 : 0) + globals.size() + (tailDecided ? 1 : 0) + 1;
        ExecutorService pool = Pipeline.pool(threads);
        try (RowFile output = RowFile.create(Path.of(recipe.output()));
             RowFile removed = RowFile.create(Path.of(recipe.removed()))) {
            int pass = 0;
            boolean read = false;
            if (readFirst) {
                readAndSample(pool, ++pass, passes, estimate);
                read = true;
            }
            int decided = 0;
            for (int g : globals) {
                stagePass(pool, ++pass, passes, !read, decided, g, estimate);
                read = true;
                decided = g + 1;
            }
            if (tailDecided) {
                stagePass(pool, ++pass, passes, !read, decided, -1, estimate);
                read = true;
                decided = steps.size();
            }
            long[] written = finalPass(pool, ++pass, passes, !read, decided, drawWeights, estimate, output, removed);
            RunResult result = result(written);
            output.publish();
            removed.publish();
            if (recipe.report() != null) {
                RowFile.publishText(Path.of(recipe.report()), HtmlReport.render(recipe, result));
            }
            return result;
        } finally {
            pool.shutdownNow();
        }
    }

    private boolean hasLocalSteps(int from) {
        for (int s = from; s < steps.size(); s++) {
            if (!(steps.get(s) instanceof Step.Convert)) {
                return true;
            }
        }
        return false;
    }

    private ProgressBar bar(int pass, int passes, String what, long total) {
        ProgressBar bar = new ProgressBar(err, String.format(Locale.ROOT, "pass %d/%d %s", pass, passes, what), "rows",
                progress);
        return bar.expect(total, 0);
    }

    /** Read-only first pass of a sampling recipe: parses every row, counts the input, draws the samples. */
    private void readAndSample(ExecutorService pool, int pass, int passes, long estimate) {
        long[] keys = new long[states.capacity()];
        long t0 = System.nanoTime();
        String what = recipe.inputs().stream().anyMatch(i -> i.sample() != null) ? "read, sample" : "read";
        ProgressBar bar = bar(pass, passes, what, estimate);
        int rows = pass(pool, true, bar, estimate, batch -> {
            Batch b = new Batch(batch);
            for (int i = 0; i < batch.size(); i++) {
                RawRow raw = batch.get(i);
                if (read(raw, b) != null) {
                    b.keys[i] = RowKeys.key(recipe.seed(), RowKeys.SAMPLE, raw.input(), raw.file(), raw.number());
                }
            }
            return b;
        }, b -> {
            for (int i = 0; i < b.rows.size(); i++) {
                keys[b.rows.get(i).ordinal()] = b.keys[i];
            }
        });
        timings.add(new RunResult.Timing(what, rows, seconds(t0)));
        for (int in = 0; in < recipe.inputs().size(); in++) {
            Number sample = recipe.inputs().get(in).sample();
            if (sample != null) {
                states.drawSample(in, keys, sample, recipe.seed());
            }
        }
    }

    /** Parses a row on the first pass; a malformed one fails the run or, with on_error: skip, is removed. */
    private RecipeRow read(RawRow raw, Batch b) {
        RecipeRow row;
        try {
            row = RecipeRow.parse(raw, recipe.inputs().get(raw.input()));
        } catch (CrucibleException e) {
            if (!recipe.skipErrors()) {
                throw RecipeRow.unreadable(e);
            }
            states.remove(raw.ordinal(), RowStates.READ, e.getMessage());
            return null;
        }
        if (stats) {
            RowSteps rs = local.get();
            RowText t = row.text();
            b.before.add(rs.tokens(t.text()), t.turns(), t.instruction(), rs.words());
        }
        return row;
    }

    /** A batch of rows and what the workers found about them, handed back in row order. */
    private static final class Batch {
        final List<RawRow> rows;
        final long[] keys;
        final ReportStats before = new ReportStats();
        final ReportStats after = new ReportStats();
        final String[] lines;
        final int[] copies;

        Batch(List<RawRow> rows) {
            this.rows = rows;
            keys = new long[rows.size()];
            lines = new String[rows.size()];
            copies = new int[rows.size()];
        }
    }

    /**
     * Streams every row through {@code work} on the pool and {@code ordered} on this thread, in row order, with the
     * progress bar; on the first pass also notes the inputs' ranges and the "before" statistics. Returns the rows.
     */
    private int pass(ExecutorService pool, boolean first, ProgressBar bar, long total, Function<List<RawRow>, Batch> work,
                     Consumer<Batch> ordered) {
        int[] rows = {0};
        try (Pipeline<Batch> p = new Pipeline<>(pool, threads, work, b -> {
            if (first) {
                b.rows.forEach(states::seen);
                before.merge(b.before);
            }
            ordered.accept(b);
            rows[0] += b.rows.size();
            bar.update(rows[0], Math.max(rows[0], total), 0, 0);
        })) {
            stream.forEach(raw -> {
                states.checkCounted(raw);
                p.accept(raw);
            });
            p.finish();
        }
        if (rows[0] < total) {
            bar.update(rows[0], rows[0], 0, 0); // the count over-estimated (white-space lines): end the bar's line
        }
        if (first) {
            states.counted(rows[0]);
        }
        return rows[0];
    }

    /**
     * A row that survives steps {@code [decided, to)} (read on the first pass, else parsed again if still kept), or
     * null with its removal recorded.
     */
    private RecipeRow survivor(RawRow raw, Batch b, boolean first, int decided, int to, RowSteps rs, String[] reason) {
        int o = raw.ordinal();
        RecipeRow row = first ? read(raw, b) : states.kept(o) ? RecipeRow.parse(raw, recipe.inputs().get(raw.input())) : null;
        if (row == null) {
            return null;
        }
        int at = rs.apply(row, 0, decided, to, reason);
        if (at >= 0) {
            states.remove(o, RowStates.FIRST_STEP + at, reason[0]);
            return null;
        }
        return row;
    }

    /**
     * One pass that decides steps {@code [decided, global)} row by row and computes the keys of dedup step
     * {@code global} (-1: no dedup, decide to the end), then runs the dedup.
     */
    private void stagePass(ExecutorService pool, int pass, int passes, boolean first, int decided, int global,
                           long estimate) {
        int to = global < 0 ? steps.size() : global;
        Step dedup = global < 0 ? null : steps.get(global);
        List<String> names = new ArrayList<>();
        if (first) {
            names.add("read");
        }
        for (int s = decided; s < to; s++) {
            names.add(steps.get(s).name());
        }
        if (dedup != null) {
            names.add(dedup.name() + (dedup instanceof Step.MinHashDedup ? " signatures" : " hashes"));
        }
        String what = String.join(", ", names);
        long total = first ? estimate : states.rows();
        ProgressBar bar = bar(pass, passes, what, total);
        Signatures sigs = dedup instanceof Step.MinHashDedup m ? new Signatures(m.numPerm()) : null;
        long[][] hashes = dedup instanceof Step.ExactDedup ? new long[2][states.capacity()] : null;
        byte[] keyed = dedup == null ? null : new byte[states.capacity()];
        long t0 = System.nanoTime();
        int rows = pass(pool, first, bar, total, batch -> {
            Batch b = new Batch(batch);
            RowSteps rs = local.get();
            String[] reason = new String[1];
            for (RawRow raw : batch) {
                RecipeRow row = survivor(raw, b, first, decided, to, rs, reason);
                int o = raw.ordinal();
                if (row == null) {
                    continue;
                }
                if (sigs != null) {
                    if (rs.sign(global, row, sigs.arrayFor(o), sigs.offset(o)) > 0) {
                        keyed[o] = 1;
                    }
                } else if (hashes != null) {
                    long[] h = rs.textHash(global, row);
                    hashes[0][o] = h[0];
                    hashes[1][o] = h[1];
                    keyed[o] = 1;
                }
            }
            return b;
        }, b -> {
        });
        timings.add(new RunResult.Timing(what, rows, seconds(t0)));
        if (dedup != null) {
            long t1 = System.nanoTime();
            long candidates = dedup instanceof Step.MinHashDedup m
                    ? states.resolveNear(global, m, sigs, keyed, new ProgressBar(err, dedup.name() + " clusters", "bands",
                    progress).expect(m.lsh().bands(), 0))
                    : states.resolveExact(global, hashes, keyed);
            timings.add(new RunResult.Timing(dedup.name() + " clustering", candidates, seconds(t1)));
        }
    }

    /**
     * The last pass: redoes conversions, decides the remaining steps, draws weights and writes every row to the
     * output or the removed file. Returns rows written per input.
     */
    private long[] finalPass(ExecutorService pool, int pass, int passes, boolean first, int decided, boolean drawWeights,
                             long estimate, RowFile output, RowFile removed) {
        if (drawWeights) {
            drawWeights();
        }
        List<String> removers = RowStates.removers(steps);
        BitSet partners = states.partners();
        Map<Integer, String> partnerWhere = new HashMap<>();
        Map<String, List<RunResult.Example>> examples = new LinkedHashMap<>();
        long[] written = new long[recipe.inputs().size()];
        List<String> names = new ArrayList<>();
        if (first) {
            names.add("read");
        }
        for (int s = decided; s < steps.size(); s++) {
            if (!(steps.get(s) instanceof Step.Convert)) {
                names.add(steps.get(s).name());
            }
        }
        names.add("write");
        String what = String.join(", ", names);
        long total = first ? estimate : states.rows();
        ProgressBar bar = bar(pass, passes, what, total);
        long t0 = System.nanoTime();
        // a kept row is parsed again only when something reads or changes it; otherwise its line is copied
        boolean parse = first || stats || hasLocalSteps(decided) || steps.stream().anyMatch(st -> st instanceof Step.Convert);
        int rows = pass(pool, first, bar, total, batch -> {
            Batch b = new Batch(batch);
            RowSteps rs = local.get();
            String[] reason = new String[1];
            for (int i = 0; i < batch.size(); i++) {
                RawRow raw = batch.get(i);
                if (!parse && states.kept(raw.ordinal())) {
                    b.copies[i] = copies(raw);
                    b.lines[i] = b.copies[i] == 0 ? null : raw.json();
                    continue;
                }
                RecipeRow row = survivor(raw, b, first, decided, steps.size(), rs, reason);
                if (row == null) {
                    continue;
                }
                b.copies[i] = copies(raw);
                if (b.copies[i] == 0) {
                    continue;
                }
                b.lines[i] = row.json();
                if (stats) {
                    RowText t = row.text();
                    for (int c = 0; c < b.copies[i]; c++) {
                        b.after.add(rs.tokens(t.text()), t.turns(), t.instruction(), rs.words());
                    }
                }
            }
            return b;
        }, b -> {
            for (int i = 0; i < b.rows.size(); i++) {
                RawRow raw = b.rows.get(i);
                int o = raw.ordinal();
                if (partners.get(o)) {
                    partnerWhere.put(o, raw.where());
                }
                if (b.lines[i] != null) {
                    for (int c = 0; c < b.copies[i]; c++) {
                        output.write(b.lines[i]);
                    }
                    written[raw.input()] += b.copies[i];
                } else {
                    String name = removers.get(states.code(o));
                    String reason = states.reason(o, partnerWhere);
                    removed.write(RecipeRow.removedLine(raw, name, reason));
                    List<RunResult.Example> list = examples.computeIfAbsent(name, k -> new ArrayList<>());
                    if (list.size() < 5) {
                        list.add(new RunResult.Example(raw.where(), reason, RecipeRow.snippet(raw,
                                recipe.inputs().get(raw.input()))));
                    }
                }
            }
            after.merge(b.after);
        });
        timings.add(new RunResult.Timing(what, rows, seconds(t0)));
        // in step order (as the Spark engine gives them), not in the order of each step's first removed row
        Map<String, List<RunResult.Example>> inStepOrder = new LinkedHashMap<>();
        removers.stream().distinct().filter(examples::containsKey).forEach(n -> inStepOrder.put(n, examples.get(n)));
        this.examples = inStepOrder;
        return written;
    }

    /** How many times a kept row is written: its input's weight, rounded up or down by the weight draw. */
    private int copies(RawRow raw) {
        double w = recipe.inputs().get(raw.input()).weight();
        int base = (int) Math.floor(w);
        if (w == base) {
            return base;
        }
        long key = RowKeys.key(recipe.seed(), RowKeys.WEIGHT, raw.input(), raw.file(), raw.number());
        boolean extra = weightDraws[raw.input()] && RowKeys.drawn(key, weightThreshold[raw.input()]);
        if (base == 0 && !extra) {
            states.remove(raw.ordinal(), RowStates.FIRST_STEP + steps.size(), RowKeys.weightReason(w, raw.input()));
        }
        return base + (extra ? 1 : 0);
    }

    /**
     * For each input with a fractional weight, the key below which a kept row gets one more copy: the fraction of
     * its kept rows (rounded half up) with the smallest weight keys. Needs every row's fate, hence a stream of keys.
     */
    private void drawWeights() {
        int inputs = recipe.inputs().size();
        weightThreshold = new long[inputs];
        weightDraws = new boolean[inputs];
        long[][] keys = new long[inputs][];
        int[] kept = new int[inputs];
        for (int in = 0; in < inputs; in++) {
            keys[in] = new long[states.inputStart(in + 1) - states.inputStart(in)];
        }
        stream.forEach(raw -> {
            if (states.kept(raw.ordinal())) {
                int in = raw.input();
                keys[in][kept[in]++] = RowKeys.key(recipe.seed(), RowKeys.WEIGHT, in, raw.file(), raw.number());
            }
        });
        for (int in = 0; in < inputs; in++) {
            double w = recipe.inputs().get(in).weight();
            double frac = w - Math.floor(w);
            long k = Math.round(frac * kept[in]);
            weightDraws[in] = k > 0;
            if (k > 0) {
                weightThreshold[in] = RowKeys.threshold(keys[in], kept[in], k);
            }
        }
    }

    private RunResult result(long[] written) {
        List<String> removers = RowStates.removers(steps);
        long[][] counts = states.counts(removers.size());
        double[] stepSeconds = new double[steps.size()];
        synchronized (workers) {
            for (RowSteps w : workers) {
                for (int s = 0; s < steps.size(); s++) {
                    stepSeconds[s] += w.nanos()[s] / 1e9;
                }
            }
        }
        List<String> inputNames = new ArrayList<>();
        for (RecipeInput in : recipe.inputs()) {
            inputNames.add(RowStream.display(recipe.file().toAbsolutePath().getParent(), Path.of(in.path())));
        }
        return new RunResult(inputNames, removers, counts, written, before, after, examples, notes, timings, stepSeconds,
                "duckdb (embedded, " + threads + " threads)", tokenizer == null ? "words" : "tokens");
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
