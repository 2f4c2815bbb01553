package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * lm-eval's {@code evaluate}: builds every task's requests (few-shot contexts with the task's seeded sampler), runs
 * them on the model by request type, filters the responses, scores each document, aggregates the scores with their
 * standard errors, aggregates groups, and returns lm-eval's results structure (and the logged samples).
 */
public final class Evaluator {
    /** The run's settings, lm_eval's CLI flags. */
    public record Options(Integer numFewshot, Double limit, Long fewshotSeed, int bootstrapIters, boolean logSamples,
                          String systemInstruction, boolean applyChatTemplate, boolean fewshotAsMultiturn) {
    }

    /** Told how many requests of a type are done; {@code total} is known before the first. */
    @FunctionalInterface
    public interface Progress {
        LongConsumer start(String requestType, long total);
    }

    /** The results ({@code results}, {@code groups}, ... as lm-eval's JSON) and the logged samples per task. */
    public record Outcome(Map<String, Object> results, Map<String, List<Map<String, Object>>> samples) {
    }

    private Evaluator() {
    }

    public static Outcome evaluate(EvalModel model, TaskRegistry.Loaded loaded, DatasetSource data, Options o,
                                   Progress progress) {
        Map<String, EvalTask> tasks = new LinkedHashMap<>();
        for (TaskSpec spec : loaded.tasks().values()) {
            EvalTask t = new EvalTask(spec, data);
            Integer own = t.config().numFewshot();
            if (o.numFewshot() != null) {
                if (own == null || own != 0) {
                    t.config().setNumFewshot(o.numFewshot());
                }
            } else if (own == null) {
                t.config().setNumFewshot(0);
            }
            t.seedFewshot(o.fewshotSeed());
            tasks.put(t.name(), t);
        }
        EvalTask.ChatFormatter chat = o.applyChatTemplate() ? model.chatFormatter() : null;
        Map<String, List<Instance>> byTask = new LinkedHashMap<>();
        Map<String, Integer> limits = new HashMap<>();
        Map<String, List<Instance>> byType = new LinkedHashMap<>();
        for (EvalTask t : tasks.values()) {
            int n = t.evalDocs().size();
            int limit = o.limit() == null ? n : o.limit() < 1.0 ? (int) Math.ceil(n * o.limit()) : (int) (double) o.limit();
            limit = Math.min(limit, n);
            limits.put(t.name(), limit);
            List<Instance> instances = new ArrayList<>();
            for (int docId = 0; docId < limit; docId++) {
                Map<String, Object> doc = t.evalDocs().get(docId);
                Object ctx = t.fewshotContext(doc, t.config().numFewshot(), o.systemInstruction(), chat,
                        o.fewshotAsMultiturn(), t.docToPrefix(doc));
                instances.addAll(t.requests(doc, docId, ctx, o.applyChatTemplate()));
            }
            if (instances.isEmpty()) {
                throw new CrucibleException(t.config().where() + ": no documents to evaluate");
            }
            byTask.put(t.name(), instances);
            for (Instance i : instances) {
                byType.computeIfAbsent(i.requestType, k -> new ArrayList<>()).add(i);
            }
        }
        for (Map.Entry<String, List<Instance>> e : byType.entrySet()) {
            List<Instance> cloned = new ArrayList<>();
            for (Instance i : e.getValue()) {
                for (int r = 0; r < i.repeats; r++) {
                    cloned.add(i);
                }
            }
            LongConsumer bar = progress.start(e.getKey(), cloned.size());
            List<?> resps = switch (e.getKey()) {
                case "loglikelihood" -> model.loglikelihood(cloned, bar);
                case "loglikelihood_rolling" -> model.loglikelihoodRolling(cloned, bar);
                case "generate_until" -> model.generateUntil(cloned, bar);
                default -> throw new IllegalStateException(e.getKey());
            };
            for (int k = 0; k < cloned.size(); k++) {
                cloned.get(k).resps.add(resps.get(k));
            }
        }
        return collect(tasks, byTask, limits, loaded, o);
    }

    private static Outcome collect(Map<String, EvalTask> tasks, Map<String, List<Instance>> byTask,
                                   Map<String, Integer> limits, TaskRegistry.Loaded loaded, Options o) {
        Map<String, Map<String, Object>> metrics = new LinkedHashMap<>();
        Map<String, Object> configs = new java.util.TreeMap<>();
        Map<String, Object> versions = new java.util.TreeMap<>();
        Map<String, Object> nShot = new java.util.TreeMap<>();
        Map<String, Object> higher = new java.util.TreeMap<>();
        Map<String, Object> nSamples = new LinkedHashMap<>();
        Map<String, List<Map<String, Object>>> samples = new LinkedHashMap<>();
        for (EvalTask t : tasks.values()) {
            List<Instance> instances = byTask.get(t.name());
            for (ResponseFilters f : t.filters()) {
                List<Object> resps = new ArrayList<>();
                for (Instance i : instances) {
                    resps.add(i.resps);
                }
                List<Object> filtered = f.apply(resps);
                for (int k = 0; k < instances.size(); k++) {
                    instances.get(k).filteredResps.put(f.name(), filtered.get(k));
                }
            }
            Map<Integer, List<Instance>> byDoc = new LinkedHashMap<>();
            for (Instance i : instances) {
                byDoc.computeIfAbsent(i.docId, k -> new ArrayList<>()).add(i);
            }
            byDoc.values().forEach(l -> l.sort(java.util.Comparator.comparingInt(i -> i.idx)));
            Map<String, List<Object>> raw = new LinkedHashMap<>();
            List<Map<String, Object>> logged = new ArrayList<>();
            for (String filter : instances.getFirst().filteredResps.keySet()) {
                for (int docId = 0; docId < limits.get(t.name()); docId++) {
                    Map<String, Object> doc = t.evalDocs().get(docId);
                    List<Instance> reqs = byDoc.get(docId);
                    List<Object> results = new ArrayList<>();
                    for (Instance r : reqs) {
                        results.add(r.filteredResps.get(filter));
                    }
                    Map<String, Object> m = t.processResults(doc, results);
                    if (o.logSamples()) {
                        logged.add(sample(t, docId, doc, reqs, filter, results, m));
                    }
                    m.forEach((k, v) -> raw.computeIfAbsent(k + "\u0000" + filter, x -> new ArrayList<>()).add(v));
                }
            }
            Map<String, Object> task = new LinkedHashMap<>();
            task.put("name", t.name());
            task.put("alias", t.config().alias());
            int sampleLen = 0;
            Map<String, Object> agg = new LinkedHashMap<>();
            for (Map.Entry<String, List<Object>> e : raw.entrySet()) {
                String metric = e.getKey().substring(0, e.getKey().indexOf('\u0000'));
                String filter = e.getKey().substring(e.getKey().indexOf('\u0000') + 1);
                Aggregation a = t.metrics().aggregation(metric);
                agg.put(metric + "," + filter, a.apply(e.getValue()));
                Double se = a.stderr(e.getValue(), o.bootstrapIters());
                agg.put(metric + "_stderr," + filter, se == null ? "N/A" : se);
                sampleLen = Math.max(sampleLen, e.getValue().size());
            }
            task.put("sample_len", (long) sampleLen);
            task.putAll(agg);
            metrics.put(t.name(), task);
            configs.put(t.name(), t.config().dump());
            versions.put(t.name(), t.config().version());
            nShot.put(t.name(), (long) t.config().numFewshot());
            higher.put(t.name(), t.metrics().higherIsBetter());
            Map<String, Object> counts = new LinkedHashMap<>();
            counts.put("original", (long) t.evalDocs().size());
            counts.put("effective", (long) sampleLen);
            nSamples.put(t.name(), counts);
            samples.put(t.name(), logged);
        }
        Map<String, Object> groupResults = new LinkedHashMap<>();
        Map<String, Object> subtasks = new LinkedHashMap<>();
        for (TaskGroup g : loaded.groups().values()) {
            subtasks.put(g.name(), g.childNames());
        }
        for (TaskGroup g : GroupAggregation.bottomUp(loaded.groups())) {
            Map<String, Object> gm = GroupAggregation.aggregate(g, metrics);
            metrics.put(g.name(), gm);
            versions.put(g.name(), g.version());
            if (g.hasAggregation()) {
                groupResults.put(g.name(), gm);
            }
        }
        for (TaskGroup g : loaded.groups().values()) { // lm-eval propagates in the groups' order, not bottom-up
            Map<String, Object> h = GroupAggregation.higherIsBetter(g, higher);
            if (!h.isEmpty()) {
                higher.put(g.name(), h);
            }
            Object shots = GroupAggregation.commonFewshot(g, nShot);
            if (shots != null) {
                nShot.put(g.name(), shots);
            }
        }
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("results", metrics);
        if (!groupResults.isEmpty()) {
            results.put("groups", groupResults);
        }
        results.put("group_subtasks", subtasks);
        results.put("configs", configs);
        results.put("versions", new java.util.TreeMap<>(versions));
        results.put("n-shot", nShot);
        results.put("higher_is_better", higher);
        results.put("n-samples", nSamples);
        return new Outcome(results, samples);
    }

    /** One logged sample, as lm-eval builds it before writing (arguments and responses still structured). */
    private static Map<String, Object> sample(EvalTask t, int docId, Map<String, Object> doc, List<Instance> reqs,
                                              String filter, List<Object> filtered, Map<String, Object> metrics) {
        Object target = t.docToTarget(doc, null);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("doc_id", (long) docId);
        s.put("doc", doc);
        s.put("target", target);
        List<Object> args = new ArrayList<>();
        List<Object> resps = new ArrayList<>();
        for (Instance r : reqs) {
            args.add(r.arguments);
            resps.add(r.resps);
        }
        s.put("arguments", args);
        s.put("resps", resps);
        s.put("filtered_resps", filtered);
        s.put("filter", filter);
        s.put("metrics", new ArrayList<>(metrics.keySet()));
        s.put("doc_hash", sha256(PythonJson.dumps(doc, 2)));
        s.put("prompt_hash", sha256(String.valueOf(reqs.getFirst().arguments.getFirst())));
        s.put("target_hash", sha256(dev.crucible.model.template.PythonValues.str(target)));
        s.putAll(metrics);
        return s;
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
