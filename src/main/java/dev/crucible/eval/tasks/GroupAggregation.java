package dev.crucible.eval.tasks;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Group results as lm-eval computes them ({@code Group.aggregate}): each {@code aggregate_metric_list} metric is the
 * mean of the leaf tasks' values weighted by their sample counts (or unweighted), with the pooled standard error
 * (or, unweighted, the standard error of a mean of independent means). Groups are aggregated children first.
 */
final class GroupAggregation {
    private GroupAggregation() {
    }

    /** Every group once, sub-groups before the groups that contain them, roots in their order. */
    static List<TaskGroup> bottomUp(Map<String, TaskGroup> groups) {
        Set<String> children = new HashSet<>();
        for (TaskGroup g : groups.values()) {
            for (Object c : g.children()) {
                if (c instanceof TaskGroup sub) {
                    children.add(sub.name());
                }
            }
        }
        List<TaskGroup> out = new ArrayList<>();
        Set<String> visited = new HashSet<>();
        for (TaskGroup g : groups.values()) {
            if (!children.contains(g.name())) {
                visit(g, visited, out);
            }
        }
        return out;
    }

    private static void visit(TaskGroup g, Set<String> visited, List<TaskGroup> out) {
        if (visited.contains(g.name())) {
            return;
        }
        for (Object c : g.children()) {
            if (c instanceof TaskGroup sub) {
                visit(sub, visited, out);
            }
        }
        visited.add(g.name());
        out.add(g);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> aggregate(TaskGroup g, Map<String, Map<String, Object>> taskMetrics) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("alias", g.alias());
        out.put("name", g.name());
        if (!g.hasAggregation()) {
            return out;
        }
        List<String> leaves = g.tasks().stream().map(TaskSpec::name).toList();
        long sampleLen = 0;
        for (String t : leaves) {
            Map<String, Object> r = taskMetrics.get(t);
            if (r != null && r.get("sample_len") instanceof Number n) {
                sampleLen += n.longValue();
            }
        }
        out.put("sample_len", sampleLen);
        Map<String, Object> sampleCount = new LinkedHashMap<>();
        for (TaskGroup.Aggregate a : g.aggregates()) {
            List<String> filters = a.filters() != null ? a.filters() : discoverFilters(a.metric(), leaves, taskMetrics);
            for (String filter : filters) {
                String key = a.metric() + "," + filter;
                String seKey = a.metric() + "_stderr," + filter;
                List<Double> values = new ArrayList<>();
                List<Object> stderrs = new ArrayList<>();
                List<Long> sizes = new ArrayList<>();
                for (String t : leaves) {
                    Map<String, Object> r = taskMetrics.get(t);
                    if (r == null || !r.containsKey(key)) {
                        continue;
                    }
                    values.add(((Number) r.get(key)).doubleValue());
                    sizes.add(r.get("sample_len") instanceof Number n ? n.longValue() : 0L);
                    if (r.get(seKey) != null) {
                        stderrs.add(r.get(seKey));
                    }
                }
                if (values.isEmpty()) {
                    continue;
                }
                out.put(key, weightedMean(values, sizes, a.weightBySize()));
                long total = 0;
                for (long s : sizes) {
                    total += s;
                }
                sampleCount.put(key, total);
                if (stderrs.size() == values.size() && !stderrs.contains("N/A")) {
                    List<Double> se = stderrs.stream().map(x -> ((Number) x).doubleValue()).toList();
                    out.put(seKey, a.weightBySize() ? pooledStderr(se, sizes) : unweightedStderr(se));
                } else {
                    out.put(seKey, "N/A");
                }
            }
        }
        if (!sampleCount.isEmpty()) {
            out.put("sample_count", sampleCount);
        }
        return out;
    }

    private static List<String> discoverFilters(String metric, List<String> leaves,
                                                Map<String, Map<String, Object>> taskMetrics) {
        TreeSet<String> found = new TreeSet<>();
        for (String t : leaves) {
            Map<String, Object> r = taskMetrics.get(t);
            if (r == null) {
                continue;
            }
            for (String k : r.keySet()) {
                if (k.startsWith(metric + ",") && !k.contains("_stderr")) {
                    found.add(k.substring(metric.length() + 1));
                }
            }
        }
        return new ArrayList<>(found);
    }

    /** lm-eval's aggregate_subtask_metrics: {@code sum(m * size) / sum(size)}, sizes all 1 when unweighted. */
    static double weightedMean(List<Double> values, List<Long> sizes, boolean bySize) {
        double num = 0;
        long den = 0;
        for (int i = 0; i < values.size(); i++) {
            long size = bySize ? sizes.get(i) : 1;
            num += values.get(i) * size;
            den += size;
        }
        return num / den;
    }

    /** lm-eval's pooled_sample_stderr. */
    static double pooledStderr(List<Double> stderrs, List<Long> sizes) {
        double var = 0;
        long total = 0;
        for (int i = 0; i < stderrs.size(); i++) {
            long size = sizes.get(i);
            var += (size - 1) * Math.pow(stderrs.get(i), 2) * size;
            total += size;
        }
        var /= (total - stderrs.size());
        return Math.sqrt(var / total);
    }

    /** lm-eval's unweighted_mean_stderr: sqrt(sum se²) / k. */
    static double unweightedStderr(List<Double> stderrs) {
        double s = 0;
        for (double se : stderrs) {
            s += se * se;
        }
        return Math.sqrt(s) / stderrs.size();
    }

    /** lm-eval's _propagate_higher_is_better for one group (null where the children disagree). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> higherIsBetter(TaskGroup g, Map<String, Object> byName) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String child : g.childNames()) {
            if (!(byName.get(child) instanceof Map<?, ?> m)) {
                continue;
            }
            for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
                if (!out.containsKey(e.getKey())) {
                    out.put(e.getKey(), e.getValue());
                } else if (out.get(e.getKey()) != null && !out.get(e.getKey()).equals(e.getValue())) {
                    out.put(e.getKey(), null);
                }
            }
        }
        return out;
    }

    /** The children's common n-shot, or null when they differ (lm-eval's _propagate_num_fewshot). */
    static Object commonFewshot(TaskGroup g, Map<String, Object> nShot) {
        Set<Object> values = new HashSet<>();
        for (String child : g.childNames()) {
            if (nShot.containsKey(child)) {
                values.add(nShot.get(child));
            }
        }
        return values.size() == 1 ? values.iterator().next() : null;
    }
}
