package dev.crucible.eval.tasks;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The Markdown table lm-eval prints after a run ({@code utils.make_table}): one row per task (or group) and metric,
 * sub-tasks indented under their groups, values with four decimals and their standard errors, laid out as
 * pytablewriter lays it out (centred headers, numeric columns right-aligned, at least three characters wide).
 */
public final class ResultsTable {
    private static final List<String> HEADERS = List.of("Tasks", "Version", "Filter", "n-shot", "Metric", "", "Value",
            "", "Stderr");

    private ResultsTable() {
    }

    /** @param column "results" or "groups" */
    @SuppressWarnings("unchecked")
    public static String render(Map<String, Object> results, String column) {
        Map<String, Object> rows = (Map<String, Object>) results.get(column);
        Map<String, Object> subtasks = (Map<String, Object>) results.getOrDefault("group_subtasks", Map.of());
        Map<String, Object> nShot = (Map<String, Object>) results.getOrDefault("n-shot", Map.of());
        Map<String, Object> versions = (Map<String, Object>) results.getOrDefault("versions", Map.of());
        Map<String, Object> higher = (Map<String, Object>) results.getOrDefault("higher_is_better", Map.of());
        Map<String, Integer> depth = new HashMap<>();
        List<String> order = hierarchy(subtasks, rows.keySet(), depth);
        List<List<String>> table = new ArrayList<>();
        for (String key : order) {
            Map<String, Object> metrics = new TreeMap<>((Map<String, Object>) rows.get(key));
            String name = String.valueOf(metrics.containsKey("alias") ? metrics.remove("alias") : key);
            metrics.remove("name");
            metrics.remove("sample_len");
            metrics.remove("sample_count");
            int d = depth.getOrDefault(key, 0);
            if (d > 0) {
                name = " ".repeat(d) + "- " + name;
            }
            String version = versions.containsKey(key) ? str(versions.get(key)) : "    N/A";
            String n = nShot.containsKey(key) ? str(nShot.get(key)) : " ";
            Map<String, Object> hib = higher.get(key) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
            for (Map.Entry<String, Object> e : metrics.entrySet()) {
                String mf = e.getKey();
                int comma = mf.indexOf(',');
                String metric = comma < 0 ? mf : mf.substring(0, comma);
                String filter = comma < 0 ? "" : mf.substring(comma + 1);
                if (metric.endsWith("_stderr")) {
                    continue;
                }
                Object h = hib.get(metric);
                String arrow = Boolean.TRUE.equals(h) ? "↑" : Boolean.FALSE.equals(h) ? "↓" : "";
                String value = e.getValue() instanceof Double v ? fixed4(v) : str(e.getValue());
                Object se = metrics.get(metric + "_stderr," + filter);
                if (metrics.containsKey(metric + "_stderr," + filter)) {
                    String s = "N/A".equals(se) ? "   N/A" : se instanceof Double v ? fixed4(v) : str(se);
                    table.add(List.of(name, version, filter, n, metric, arrow, value, "±", s));
                } else {
                    table.add(List.of(name, version, filter, n, metric, arrow, value, "", ""));
                }
                name = "";
                version = "";
            }
        }
        List<String> headers = new ArrayList<>(HEADERS);
        headers.set(0, column.equals("groups") ? "Groups" : "Tasks");
        return markdown(headers, table);
    }

    /** Python's {@code f"{v:.4f}"}: the exact binary value rounded half-even. */
    static String fixed4(double v) {
        if (Double.isNaN(v)) {
            return "nan";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        return new BigDecimal(v).setScale(4, RoundingMode.HALF_EVEN).toPlainString();
    }

    private static String str(Object o) {
        return o instanceof Double d ? PythonJson.number(d) : dev.crucible.model.template.PythonValues.str(o);
    }

    /** lm-eval's _build_hierarchy_info: groups depth-first (sorted), then the keys in no group, sorted. */
    @SuppressWarnings("unchecked")
    private static List<String> hierarchy(Map<String, Object> subtasks, Set<String> available, Map<String, Integer> depth) {
        Set<String> children = new HashSet<>();
        for (Object list : subtasks.values()) {
            children.addAll((List<String>) list);
        }
        List<String> ordered = new ArrayList<>();
        for (String g : new java.util.TreeSet<>(subtasks.keySet())) {
            if (!children.contains(g)) {
                visit(g, 0, subtasks, available, depth, ordered);
            }
        }
        for (String k : new java.util.TreeSet<>(available)) {
            if (!depth.containsKey(k)) {
                ordered.add(k);
            }
        }
        return ordered;
    }

    @SuppressWarnings("unchecked")
    private static void visit(String name, int d, Map<String, Object> subtasks, Set<String> available,
                              Map<String, Integer> depth, List<String> ordered) {
        depth.put(name, d);
        if (available.contains(name)) {
            ordered.add(name);
        }
        List<String> kids = new ArrayList<>((List<String>) subtasks.getOrDefault(name, List.of()));
        kids.sort(null);
        for (String k : kids) {
            visit(k, d + 1, subtasks, available, depth, ordered);
        }
    }

    /** pytablewriter's Markdown layout. */
    static String markdown(List<String> headers, List<List<String>> rows) {
        int cols = headers.size();
        int[] width = new int[cols];
        boolean[] numeric = new boolean[cols];
        for (int c = 0; c < cols; c++) {
            width[c] = Math.max(3, headers.get(c).length());
            boolean any = false;
            boolean all = true;
            for (List<String> r : rows) {
                width[c] = Math.max(width[c], r.get(c).length());
                String v = r.get(c).strip();
                if (!v.isEmpty()) {
                    any = true;
                    all &= isNumber(v);
                }
            }
            numeric[c] = any && all;
        }
        StringBuilder sb = new StringBuilder("|");
        for (int c = 0; c < cols; c++) {
            int pad = width[c] - headers.get(c).length();
            sb.append(" ".repeat(pad / 2)).append(headers.get(c)).append(" ".repeat(pad - pad / 2)).append('|');
        }
        sb.append("\n|");
        for (int c = 0; c < cols; c++) {
            sb.append(numeric[c] ? "-".repeat(width[c] - 1) + ":" : "-".repeat(width[c])).append('|');
        }
        sb.append('\n');
        for (List<String> r : rows) {
            sb.append('|');
            for (int c = 0; c < cols; c++) {
                String v = r.get(c);
                String fill = " ".repeat(width[c] - v.length());
                sb.append(numeric[c] ? fill + v : v + fill).append('|');
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return !s.endsWith("d") && !s.endsWith("f") && !s.endsWith("D") && !s.endsWith("F");
        } catch (NumberFormatException e) {
            return s.equals("nan") || s.equals("inf") || s.equals("-inf");
        }
    }
}
