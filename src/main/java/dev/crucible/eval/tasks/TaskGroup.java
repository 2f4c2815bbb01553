package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A group of tasks and sub-groups (lm-eval's {@code Group}): its name, alias, version and, when the group file
 * has {@code aggregate_metric_list}, the metrics it reports as the (size-weighted) mean of its leaf tasks'.
 */
public final class TaskGroup {
    /** One {@code aggregate_metric_list} entry; {@code filters} null = every filter the leaf tasks report. */
    public record Aggregate(String metric, List<String> filters, boolean weightBySize) {
    }

    private final String name;
    private final String alias;
    private final List<Aggregate> aggregates;
    private final Map<String, Object> metadata;
    private final Map<String, Object> children = new LinkedHashMap<>(); // name -> TaskSpec or TaskGroup

    TaskGroup(String name, String alias, List<Aggregate> aggregates, Map<String, Object> metadata) {
        this.name = name;
        this.alias = alias;
        this.aggregates = aggregates;
        this.metadata = metadata;
    }

    @SuppressWarnings("unchecked")
    static TaskGroup of(String name, Map<String, Object> cfg, String where) {
        Object alias = cfg.get("group_alias");
        List<Aggregate> aggregates = null;
        Object list = cfg.get("aggregate_metric_list");
        if (list != null) {
            aggregates = new ArrayList<>();
            for (Object item : list instanceof List<?> l ? l : List.of(list)) {
                if (!(item instanceof Map<?, ?> m) || !(m.get("metric") instanceof String metric)) {
                    throw new CrucibleException(where + ": each aggregate_metric_list entry needs a 'metric'");
                }
                for (Object key : m.keySet()) {
                    if (!List.of("metric", "filter_list", "aggregation", "weight_by_size").contains(key)) {
                        throw new CrucibleException(where + ": unknown key 'aggregate_metric_list." + key + "'");
                    }
                }
                Object agg = m.get("aggregation");
                if (agg != null && !"mean".equals(agg)) {
                    throw new CrucibleException(where + ": aggregation '" + agg + "' of " + metric
                            + ": 'mean' is the only group aggregation (as in lm-eval)");
                }
                Object filters = m.get("filter_list");
                List<String> fl = filters == null ? null : filters instanceof List<?> fls
                        ? fls.stream().map(String::valueOf).toList() : List.of(String.valueOf(filters));
                Object weight = m.get("weight_by_size");
                aggregates.add(new Aggregate(metric, fl, weight == null || Boolean.TRUE.equals(weight)));
            }
        }
        Map<String, Object> meta = cfg.get("metadata") instanceof Map<?, ?> mm ? (Map<String, Object>) mm : null;
        return new TaskGroup(name, alias instanceof String a ? a : null, aggregates, meta);
    }

    public String name() {
        return name;
    }

    public String alias() {
        return alias == null ? name : alias;
    }

    /** metadata.version as text, "N/A" without one (lm-eval's Group.version). */
    public String version() {
        Object v = metadata == null ? null : metadata.get("version");
        return v == null ? "N/A" : dev.crucible.model.template.PythonValues.str(v);
    }

    public List<Aggregate> aggregates() {
        return aggregates == null ? List.of() : aggregates;
    }

    public boolean hasAggregation() {
        return aggregates != null && !aggregates.isEmpty();
    }

    void add(String childName, Object child) {
        children.put(childName, child);
    }

    public List<String> childNames() {
        return List.copyOf(children.keySet());
    }

    public List<Object> children() {
        return List.copyOf(children.values());
    }

    /** Leaf tasks, depth first in child order. */
    public List<TaskSpec> tasks() {
        List<TaskSpec> out = new ArrayList<>();
        for (Object c : children.values()) {
            if (c instanceof TaskSpec t) {
                out.add(t);
            } else {
                out.addAll(((TaskGroup) c).tasks());
            }
        }
        return out;
    }

    /** Sub-groups at every depth. */
    public List<TaskGroup> groups() {
        List<TaskGroup> out = new ArrayList<>();
        for (Object c : children.values()) {
            if (c instanceof TaskGroup g) {
                out.add(g);
                out.addAll(g.groups());
            }
        }
        return out;
    }
}
