package dev.crucible.data.recipe;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple2;

import java.io.PrintWriter;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The passes of a recipe as Spark jobs, mirroring {@link EmbeddedEngine}: a sample draw when an input samples; for
 * each dedup, a pass computing its keys and a distributed clustering (exact: group by text hash; MinHash: group by
 * LSH band, link each bucket's rows by the shared rule of {@link NearDuplicates#links}, connected components on the
 * driver over the links); a count pass when a weight draws; the last pass judging every row and writing it.
 * Output paths without a URI scheme are written by the driver as single files, in row order, byte for byte as the
 * embedded engine writes them; {@code hdfs://}, {@code s3a://}, ... outputs are directories of part files.
 */
final class SparkRecipe {
    private final SparkSession spark;
    private final JavaSparkContext sc;
    private final Recipe recipe;
    private final PrintWriter err;
    private final List<RunResult.Timing> timings = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final List<Step> steps;
    /** Per step, nanoseconds its row-by-row work took in all tasks of all passes. */
    private final LongAccumulator[] stepNanos;

    SparkRecipe(SparkSession spark, Recipe recipe, PrintWriter err) {
        this.spark = spark;
        this.sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.recipe = recipe;
        this.err = err;
        this.steps = recipe.steps();
        this.stepNanos = new LongAccumulator[steps.size()];
        for (int s = 0; s < steps.size(); s++) {
            stepNanos[s] = spark.sparkContext().longAccumulator("steps[" + s + "] nanos");
        }
    }

    /** Adds a task's time per step to the run's accumulators. */
    private static void countTime(RowSteps rs, LongAccumulator[] nanos) {
        for (int s = 0; s < nanos.length; s++) {
            nanos[s].add(rs.nanos()[s]);
        }
    }

    /** Runs the passes; {@code startSeconds} is how long the Spark session took to start (reported with them). */
    RunResult run(double startSeconds) {
        timings.add(new RunResult.Timing("spark session start", 0, startSeconds));
        long t0 = System.nanoTime();
        JavaRDD<RawRow> raw = SparkRows.read(spark, recipe).persist(StorageLevel.MEMORY_AND_DISK_SER());
        long rows = raw.count();
        timings.add(new RunResult.Timing("read", rows, seconds(t0)));
        progress("read", rows, t0);
        Benchmarks[] benchmarks = new Benchmarks[steps.size()];
        Path base = recipe.file().toAbsolutePath().getParent();
        for (int s = 0; s < steps.size(); s++) {
            if (steps.get(s) instanceof Step.Decontaminate d) {
                benchmarks[s] = Benchmarks.load(d.against(), d.ngram(), p -> RowStream.display(base, p));
            }
        }
        notes.addAll(RunSummary.stepNotes(recipe, benchmarks));
        SparkJudge judge = SparkJudge.of(recipe, benchmarks);
        if (recipe.inputs().stream().anyMatch(i -> i.sample() != null)) {
            judge = drawSamples(raw, judge);
        }
        for (int g = 0; g < steps.size(); g++) {
            if (steps.get(g).global()) {
                judge = dedup(raw, judge, g);
            }
        }
        if (recipe.inputs().stream().anyMatch(i -> i.weight() != Math.floor(i.weight()))) {
            judge = drawWeights(raw, judge);
        }
        RunResult result = write(raw, judge);
        raw.unpersist();
        return result;
    }

    // ---------------------------------------------------------------- sample

    private SparkJudge drawSamples(JavaRDD<RawRow> raw, SparkJudge judge) {
        long t0 = System.nanoTime();
        Broadcast<SparkJudge> b = sc.broadcast(judge);
        JavaPairRDD<Integer, Long> keys = raw.mapPartitionsToPair(it -> {
            SparkJudge j = b.value();
            List<Tuple2<Integer, Long>> out = new ArrayList<>();
            String[] reason = new String[1];
            while (it.hasNext()) {
                RawRow r = it.next();
                if (j.inputs().get(r.input()).sample() != null && j.read(r, reason) != null) {
                    out.add(new Tuple2<>(r.input(), RowKeys.key(j.seed(), RowKeys.SAMPLE, r.input(), r.file(), r.number())));
                }
            }
            return out.iterator();
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());
        int inputs = recipe.inputs().size();
        long[] count = new long[inputs];
        long[] of = new long[inputs];
        long[] threshold = new long[inputs];
        Arrays.fill(count, -1);
        Map<Integer, Long> sizes = keys.countByKey();
        for (int in = 0; in < inputs; in++) {
            Number sample = recipe.inputs().get(in).sample();
            if (sample == null) {
                continue;
            }
            of[in] = sizes.getOrDefault(in, 0L);
            count[in] = RowKeys.count(sample, of[in]);
            if (count[in] > 0 && count[in] < of[in]) {
                int input = in;
                threshold[in] = kthSmallest(keys.filter(t -> t._1() == input).map(Tuple2::_2), count[in]);
            }
        }
        keys.unpersist();
        timings.add(new RunResult.Timing("sample", raw.count(), seconds(t0)));
        return judge.withSamples(count, of, threshold);
    }

    /** The largest of the {@code k} smallest keys (unsigned order), by a distributed sort. */
    private static long kthSmallest(JavaRDD<Long> keys, long k) {
        return keys.map(x -> x ^ Long.MIN_VALUE).sortBy(x -> x, true, keys.getNumPartitions()).zipWithIndex()
                .filter(t -> t._2() == k - 1).map(t -> t._1() ^ Long.MIN_VALUE).first();
    }

    // ---------------------------------------------------------------- dedup

    private SparkJudge dedup(JavaRDD<RawRow> raw, SparkJudge judge, int g) {
        long t0 = System.nanoTime();
        LongAccumulator[] nanos = stepNanos;
        Broadcast<SparkJudge> b = sc.broadcast(judge);
        Step step = steps.get(g);
        Map<Long, long[]> removed; // ordinal -> {partner, similarity bits}
        long keyedRows;
        if (step instanceof Step.MinHashDedup m) {
            JavaPairRDD<Long, int[]> sigs = raw.mapPartitionsToPair(it -> {
                SparkJudge j = b.value();
                RowSteps rs = j.rowSteps();
                List<Tuple2<Long, int[]>> out = new ArrayList<>();
                String[] reason = new String[1];
                while (it.hasNext()) {
                    RawRow r = it.next();
                    RecipeRow row = alive(j, rs, r, g, reason);
                    if (row != null) {
                        int[] sig = new int[m.numPerm()];
                        if (rs.sign(g, row, sig, 0) > 0) {
                            out.add(new Tuple2<>((long) r.ordinal(), sig));
                        }
                    }
                }
                countTime(rs, nanos);
                return out.iterator();
            }).persist(StorageLevel.MEMORY_AND_DISK_SER());
            keyedRows = sigs.count();
            progress(step.name() + " signatures", keyedRows, t0);
            removed = nearDuplicates(sigs, m);
            sigs.unpersist();
        } else {
            JavaPairRDD<Long, Tuple2<Long, Long>> hashes = raw.mapPartitionsToPair(it -> {
                SparkJudge j = b.value();
                RowSteps rs = j.rowSteps();
                List<Tuple2<Long, Tuple2<Long, Long>>> out = new ArrayList<>();
                String[] reason = new String[1];
                while (it.hasNext()) {
                    RawRow r = it.next();
                    RecipeRow row = alive(j, rs, r, g, reason);
                    if (row != null) {
                        long[] h = rs.textHash(g, row);
                        out.add(new Tuple2<>((long) r.ordinal(), new Tuple2<>(h[0], h[1])));
                    }
                }
                countTime(rs, nanos);
                return out.iterator();
            }).persist(StorageLevel.MEMORY_AND_DISK_SER());
            keyedRows = hashes.count();
            // the first row of each text stays; every other row names it
            JavaPairRDD<Tuple2<Long, Long>, Long> byText = hashes.mapToPair(t -> new Tuple2<>(t._2(), t._1()));
            JavaPairRDD<Tuple2<Long, Long>, Long> first = byText.reduceByKey(Math::min);
            removed = new HashMap<>();
            for (Tuple2<Long, Long> t : byText.join(first).values().filter(t -> !t._1().equals(t._2())).collect()) {
                removed.put(t._1(), new long[]{t._2(), Float.floatToIntBits(1f)});
            }
            hashes.unpersist();
        }
        // where the kept rows are, for the reasons
        Set<Long> partners = new HashSet<>();
        removed.values().forEach(v -> partners.add(v[0]));
        Broadcast<Set<Long>> wanted = sc.broadcast(partners);
        Map<Long, String> where = raw.filter(r -> wanted.value().contains((long) r.ordinal()))
                .mapToPair(r -> new Tuple2<>((long) r.ordinal(), r.where())).collectAsMap();
        Map<Long, SparkJudge.Removal> decided = new HashMap<>(judge.dedups());
        removed.forEach((o, v) -> decided.put(o, new SparkJudge.Removal(g, where.get(v[0]),
                Float.intBitsToFloat((int) v[1]))));
        timings.add(new RunResult.Timing(step.name() + " keys and clustering", keyedRows, seconds(t0)));
        return judge.withDedups(decided);
    }

    /** The row if it is readable, sampled and survives steps {@code [0, to)}; else null. */
    private static RecipeRow alive(SparkJudge j, RowSteps rs, RawRow r, int to, String[] reason) {
        RecipeRow row = j.read(r, reason);
        if (row == null || !j.sampled(r) || j.judge(rs, row, r, to, reason) >= 0) {
            return null;
        }
        return row;
    }

    /**
     * MinHash clustering: rows sharing a band's values form a bucket; each bucket's links follow
     * {@link NearDuplicates#links}; the links' connected components are resolved on the driver, each row removed in
     * favour of its component's first row. Returns ordinal -> {first row, estimated Jaccard bits}.
     */
    private Map<Long, long[]> nearDuplicates(JavaPairRDD<Long, int[]> sigs, Step.MinHashDedup m) {
        LshParams lsh = m.lsh();
        double threshold = m.threshold();
        JavaRDD<long[]> buckets = sigs.flatMapToPair(t -> {
            List<Tuple2<Tuple2<Integer, Long>, Long>> out = new ArrayList<>(lsh.bands());
            for (int band = 0; band < lsh.bands(); band++) {
                long key = Signatures.bandKey(t._2(), 0, band * lsh.rows(), lsh.rows());
                out.add(new Tuple2<>(new Tuple2<>(band, key), t._1()));
            }
            return out.iterator();
        }).groupByKey().map(t -> {
            List<Long> members = new ArrayList<>();
            t._2().forEach(members::add);
            return members.stream().mapToLong(Long::longValue).sorted().toArray();
        }).filter(members -> members.length > 1);
        JavaPairRDD<Long, Long> memberOf = buckets.zipWithUniqueId().flatMapToPair(t -> {
            List<Tuple2<Long, Long>> out = new ArrayList<>();
            for (long o : t._1()) {
                out.add(new Tuple2<>(o, t._2()));
            }
            return out.iterator();
        });
        List<long[]> links = memberOf.join(sigs).mapToPair(t -> new Tuple2<>(t._2()._1(), new Tuple2<>(t._1(), t._2()._2())))
                .groupByKey().flatMap(t -> {
                    List<Tuple2<Long, int[]>> members = new ArrayList<>();
                    t._2().forEach(members::add);
                    members.sort((x, y) -> Long.compare(x._1(), y._1()));
                    int[] index = new int[members.size()];
                    for (int i = 0; i < index.length; i++) {
                        index[i] = i;
                    }
                    List<long[]> out = new ArrayList<>();
                    NearDuplicates.links(index, index.length, threshold,
                            (x, y) -> MinHash.estimatedJaccard(members.get(x)._2(), 0, members.get(y)._2(), 0,
                                    members.get(x)._2().length),
                            (x, y) -> out.add(new long[]{members.get(x)._1(), members.get(y)._1()}));
                    return out.iterator();
                }).collect();
        // connected components, each rooted at its smallest row
        Map<Long, Long> parent = new HashMap<>();
        for (long[] l : links) {
            long a = find(parent, l[0]);
            long c = find(parent, l[1]);
            if (a != c) {
                parent.put(Math.max(a, c), Math.min(a, c));
            }
        }
        List<Tuple2<Long, Long>> keepers = new ArrayList<>();
        for (Long node : new ArrayList<>(parent.keySet())) {
            long root = find(parent, node);
            if (root != node) {
                keepers.add(new Tuple2<>(node, root));
            }
        }
        Map<Long, long[]> removed = new HashMap<>();
        if (keepers.isEmpty()) {
            return removed;
        }
        // the estimated Jaccard of each removed row with the row it names
        JavaPairRDD<Long, Long> pairs = sc.parallelizePairs(keepers);
        List<Tuple2<Long, Tuple2<Long, Double>>> sims = pairs.join(sigs)
                .mapToPair(t -> new Tuple2<>(t._2()._1(), new Tuple2<>(t._1(), t._2()._2())))
                .join(sigs)
                .mapToPair(t -> new Tuple2<>(t._2()._1()._1(), new Tuple2<>(t._1(),
                        MinHash.estimatedJaccard(t._2()._1()._2(), 0, t._2()._2(), 0, t._2()._2().length))))
                .collect();
        for (Tuple2<Long, Tuple2<Long, Double>> s : sims) {
            removed.put(s._1(), new long[]{s._2()._1(), Float.floatToIntBits((float) (double) s._2()._2())});
        }
        return removed;
    }

    private static long find(Map<Long, Long> parent, long x) {
        long root = x;
        while (parent.containsKey(root)) {
            root = parent.get(root);
        }
        while (parent.containsKey(x) && parent.get(x) != root) {
            long next = parent.get(x);
            parent.put(x, root);
            x = next;
        }
        return root;
    }

    // ---------------------------------------------------------------- weight

    private SparkJudge drawWeights(JavaRDD<RawRow> raw, SparkJudge judge) {
        long t0 = System.nanoTime();
        LongAccumulator[] nanos = stepNanos;
        Broadcast<SparkJudge> b = sc.broadcast(judge);
        int n = steps.size();
        JavaPairRDD<Integer, Long> keys = raw.mapPartitionsToPair(it -> {
            SparkJudge j = b.value();
            RowSteps rs = j.rowSteps();
            List<Tuple2<Integer, Long>> out = new ArrayList<>();
            String[] reason = new String[1];
            while (it.hasNext()) {
                RawRow r = it.next();
                double w = j.inputs().get(r.input()).weight();
                if (w != Math.floor(w) && alive(j, rs, r, n, reason) != null) {
                    out.add(new Tuple2<>(r.input(), RowKeys.key(j.seed(), RowKeys.WEIGHT, r.input(), r.file(), r.number())));
                }
            }
            countTime(rs, nanos);
            return out.iterator();
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());
        Map<Integer, Long> kept = keys.countByKey();
        int inputs = recipe.inputs().size();
        boolean[] draw = new boolean[inputs];
        long[] threshold = new long[inputs];
        for (int in = 0; in < inputs; in++) {
            double w = recipe.inputs().get(in).weight();
            long k = Math.round((w - Math.floor(w)) * kept.getOrDefault(in, 0L));
            draw[in] = k > 0;
            if (k > 0) {
                int input = in;
                threshold[in] = kthSmallest(keys.filter(t -> t._1() == input).map(Tuple2::_2), k);
            }
        }
        keys.unpersist();
        timings.add(new RunResult.Timing("weight", raw.count(), seconds(t0)));
        return judge.withWeights(draw, threshold);
    }

    // ---------------------------------------------------------------- last pass

    /** One row's line for the output or the removed file, or (last in a partition) the partition's numbers. */
    record Out(boolean kept, String line, int copies, Partial partial) implements Serializable {
    }

    /** A partition's counts, statistics and first removed rows, merged on the driver. */
    static final class Partial implements Serializable {
        ReportStats before = new ReportStats();
        ReportStats after = new ReportStats();
        long[][] counts;
        long[] written;
        Map<String, List<Object[]>> examples = new LinkedHashMap<>();

        Partial(int inputs, int codes) {
            counts = new long[inputs][codes];
            written = new long[inputs];
        }

        void example(String name, long ordinal, RunResult.Example e) {
            List<Object[]> list = examples.computeIfAbsent(name, k -> new ArrayList<>());
            if (list.size() < 5) {
                list.add(new Object[]{ordinal, e});
            }
        }

        Partial merge(Partial o) {
            before.merge(o.before);
            after.merge(o.after);
            for (int i = 0; i < counts.length; i++) {
                for (int c = 0; c < counts[i].length; c++) {
                    counts[i][c] += o.counts[i][c];
                }
                written[i] += o.written[i];
            }
            o.examples.forEach((name, list) -> {
                List<Object[]> mine = examples.computeIfAbsent(name, k -> new ArrayList<>());
                mine.addAll(list);
                mine.sort((x, y) -> Long.compare((Long) x[0], (Long) y[0]));
                while (mine.size() > 5) {
                    mine.removeLast();
                }
            });
            return this;
        }
    }

    private RunResult write(JavaRDD<RawRow> raw, SparkJudge judge) {
        long t0 = System.nanoTime();
        Broadcast<SparkJudge> b = sc.broadcast(judge);
        List<String> removers = RowStates.removers(steps);
        int inputs = recipe.inputs().size();
        int n = steps.size();
        LongAccumulator[] nanos = stepNanos;
        JavaRDD<Out> out = raw.mapPartitions(it -> lastPass(it, b.value(), removers, inputs, nanos))
                .persist(StorageLevel.MEMORY_AND_DISK_SER());
        Partial total = out.filter(o -> o.partial() != null).map(Out::partial).reduce(Partial::merge);
        JavaRDD<Out> lines = out.filter(o -> o.partial() == null);
        writeRows(lines.filter(Out::kept), recipe.output());
        writeRows(lines.filter(o -> !o.kept()), recipe.removed());
        out.unpersist();
        long rows = 0;
        for (long[] c : total.counts) {
            rows += Arrays.stream(c).sum();
        }
        timings.add(new RunResult.Timing("judge, write", rows, seconds(t0)));
        Map<String, List<RunResult.Example>> examples = new LinkedHashMap<>();
        for (int c = 1; c < removers.size(); c++) {
            List<Object[]> list = total.examples.get(removers.get(c));
            if (list != null) {
                examples.put(removers.get(c), list.stream().map(x -> (RunResult.Example) x[1]).toList());
            }
        }
        double[] stepSeconds = new double[n];
        for (int s = 0; s < n; s++) {
            stepSeconds[s] = stepNanos[s].value() / 1e9;
        }
        List<String> names = new ArrayList<>();
        Path base = recipe.file().toAbsolutePath().getParent();
        for (RecipeInput in : recipe.inputs()) {
            names.add(in.local() ? RowStream.display(base, in.localPath()) : in.path());
        }
        return new RunResult(names, removers, total.counts, total.written, total.before, total.after, examples, notes,
                timings, stepSeconds, "spark (" + spark.sparkContext().master() + ")",
                recipe.tokenizer() == null ? "words" : "tokens");
    }

    /** Judges every row of a partition through all steps; the partition's numbers follow its last row. */
    private static Iterator<Out> lastPass(Iterator<RawRow> it, SparkJudge j, List<String> removers, int inputs,
                                          LongAccumulator[] nanos) {
        int n = nanos.length;
        List<Out> out = new ArrayList<>();
        Partial p = new Partial(inputs, removers.size());
        String[] reason = new String[1];
        RowSteps rs = j.rowSteps();
        while (it.hasNext()) {
            RawRow r = it.next();
            RecipeRow row = j.read(r, reason);
            int code;
            if (row == null) {
                code = RowStates.READ;
            } else {
                if (j.stats()) {
                    RowText t = row.text();
                    p.before.add(rs.tokens(t.text()), t.turns(), t.instruction(), rs.words());
                }
                if (!j.sampled(r)) {
                    code = RowStates.SAMPLE;
                    reason[0] = j.sampleReason(r.input());
                } else {
                    code = Math.max(0, j.judge(rs, row, r, n, reason));
                }
            }
            int copies = code == 0 ? j.copies(r) : 0;
            if (code == 0 && copies == 0) {
                code = RowStates.FIRST_STEP + n;
                reason[0] = RowKeys.weightReason(j.inputs().get(r.input()).weight(), r.input());
            }
            p.counts[r.input()][code]++;
            if (code == 0) {
                String line = row.json();
                out.add(new Out(true, line, copies, null));
                p.written[r.input()] += copies;
                if (j.stats()) {
                    RowText t = row.text();
                    for (int c = 0; c < copies; c++) {
                        p.after.add(rs.tokens(t.text()), t.turns(), t.instruction(), rs.words());
                    }
                }
            } else {
                String name = removers.get(code);
                out.add(new Out(false, RecipeRow.removedLine(r, name, reason[0]), 1, null));
                p.example(name, r.ordinal(), new RunResult.Example(r.where(), reason[0],
                        RecipeRow.snippet(r, j.inputs().get(r.input()))));
            }
        }
        countTime(rs, nanos);
        out.add(new Out(false, null, 0, p));
        return out.iterator();
    }

    /**
     * Writes rows in order: a local path as one file through the driver (atomically, as the embedded engine), a URI
     * as Spark's directory of part files.
     */
    private void writeRows(JavaRDD<Out> rows, String target) {
        if (!target.contains("://")) {
            try (RowFile file = RowFile.create(Path.of(target))) {
                Iterator<Out> it = rows.toLocalIterator();
                while (it.hasNext()) {
                    Out o = it.next();
                    for (int c = 0; c < o.copies(); c++) {
                        file.write(o.line());
                    }
                }
                file.publish();
            }
            return;
        }
        JavaRDD<String> lines = rows.flatMap(o -> java.util.Collections.nCopies(o.copies(), o.line()).iterator());
        if (target.toLowerCase(Locale.ROOT).endsWith(".parquet")) {
            spark.read().json(spark.createDataset(lines.rdd(), org.apache.spark.sql.Encoders.STRING()))
                    .write().parquet(target);
        } else {
            lines.saveAsTextFile(target);
        }
    }

    private void progress(String what, long rows, long t0) {
        double s = seconds(t0);
        err.printf(Locale.ROOT, "%s: %,d rows in %.1f s (%,.0f rows/s)%n", what, rows, s, s > 0 ? rows / s : 0);
        err.flush();
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
