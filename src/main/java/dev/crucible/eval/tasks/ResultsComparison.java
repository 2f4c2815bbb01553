package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Several models' lm-eval results side by side (a merge against its sources, a fine-tune against its base): one row
 * per task and metric, one column per model, the best value of each row marked (by the metric's direction), and,
 * when every model has the six Open LLM Leaderboard (v1) tasks, their average as the leaderboard computes it.
 */
public final class ResultsComparison {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The leaderboard's headline metric of each task. */
    private static final Map<String, String> LEADERBOARD = Map.of("arc_challenge", "acc_norm,none", "hellaswag",
            "acc_norm,none", "mmlu", "acc,none", "truthfulqa_mc2", "acc,none", "winogrande", "acc,none",
            "gsm8k", "exact_match,strict-match");

    /** One model's results file. */
    public record Model(String name, Path file, JsonNode results) {
    }

    /** A row: a task's metric under a filter, the value and standard error per model (null where absent). */
    public record Row(String task, String metric, String filter, Boolean higherIsBetter, Double[] values, Object[] stderrs) {
        /** Index of the best value, or -1 when fewer than two models have one or the direction is unknown. */
        public int best() {
            int best = -1;
            int present = 0;
            for (int i = 0; i < values.length; i++) {
                if (values[i] == null || values[i].isNaN()) {
                    continue;
                }
                present++;
                if (best < 0 || (Boolean.FALSE.equals(higherIsBetter) ? values[i] < values[best] : values[i] > values[best])) {
                    best = i;
                }
            }
            return present < 2 || higherIsBetter == null ? -1 : best;
        }
    }

    private final List<Model> models;
    private final List<Row> rows;

    private ResultsComparison(List<Model> models, List<Row> rows) {
        this.models = models;
        this.rows = rows;
    }

    public List<Model> models() {
        return models;
    }

    public List<Row> rows() {
        return rows;
    }

    /**
     * Reads each argument: a results JSON file, a directory with results_*.json (the newest is taken), or an
     * {@code --output-path} directory holding one such directory per model.
     */
    public static ResultsComparison of(List<Path> inputs) {
        List<Model> models = new ArrayList<>();
        for (Path in : inputs) {
            if (Files.isRegularFile(in)) {
                models.add(read(in));
            } else if (Files.isDirectory(in)) {
                Path own = newest(in);
                if (own != null) {
                    models.add(read(own));
                } else {
                    List<Path> subs = list(in).stream().filter(Files::isDirectory).map(ResultsComparison::newest)
                            .filter(p -> p != null).toList();
                    if (subs.isEmpty()) {
                        throw new CrucibleException(in + ": no results_*.json in it or in its sub-directories");
                    }
                    subs.forEach(p -> models.add(read(p)));
                }
            } else {
                throw new CrucibleException(in + ": no such results file or directory");
            }
        }
        if (models.size() < 2) {
            throw new CrucibleException("compare needs at least two results (got " + models.size() + ")");
        }
        return new ResultsComparison(uniqueNames(models), rows(models));
    }

    private static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static Path newest(Path dir) {
        return list(dir).stream().filter(p -> {
            String n = p.getFileName().toString();
            return n.startsWith("results_") && n.endsWith(".json") && Files.isRegularFile(p);
        }).max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
    }

    private static Model read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CrucibleException(file + ": not a readable results JSON file: " + e.getMessage(), e);
        }
        if (root == null || !root.has("results")) {
            throw new CrucibleException(file + ": not an lm-eval results file (no 'results')");
        }
        String name = root.path("model_name").asText("");
        if (name.isEmpty()) {
            name = root.path("config").path("model_args").path("pretrained").asText(file.getParent().getFileName().toString());
        }
        Path p = Path.of(name).getFileName();
        return new Model(p == null ? name : p.toString(), file, root);
    }

    private static List<Model> uniqueNames(List<Model> models) {
        List<Model> out = new ArrayList<>();
        for (Model m : models) {
            long same = models.stream().filter(o -> o.name().equals(m.name())).count();
            out.add(same > 1 ? new Model(m.file().toString(), m.file(), m.results()) : m);
        }
        return out;
    }

    private static List<Row> rows(List<Model> models) {
        Map<String, Row> rows = new LinkedHashMap<>();
        for (int i = 0; i < models.size(); i++) {
            JsonNode results = models.get(i).results().get("results");
            JsonNode higher = models.get(i).results().path("higher_is_better");
            for (Iterator<Map.Entry<String, JsonNode>> it = results.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> task = it.next();
                for (Iterator<Map.Entry<String, JsonNode>> m = task.getValue().properties().iterator(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = m.next();
                    String key = e.getKey();
                    int comma = key.indexOf(',');
                    if (comma < 0 || key.substring(0, comma).endsWith("_stderr") || !e.getValue().isNumber()) {
                        continue;
                    }
                    String metric = key.substring(0, comma);
                    JsonNode h = higher.path(task.getKey()).path(metric);
                    Row row = rows.computeIfAbsent(task.getKey() + "\u0000" + key, k -> new Row(task.getKey(), metric,
                            key.substring(comma + 1), h.isBoolean() ? h.asBoolean() : null, new Double[models.size()],
                            new Object[models.size()]));
                    row.values()[i] = e.getValue().asDouble();
                    JsonNode se = task.getValue().get(metric + "_stderr," + key.substring(comma + 1));
                    row.stderrs()[i] = se == null ? null : se.isNumber() ? (Object) se.asDouble() : se.asText();
                }
            }
        }
        List<Row> out = new ArrayList<>(rows.values());
        Double[] avg = new Double[models.size()];
        boolean complete = true;
        for (int i = 0; i < models.size(); i++) {
            double sum = 0;
            for (Map.Entry<String, String> e : LEADERBOARD.entrySet()) {
                JsonNode v = models.get(i).results().get("results").path(e.getKey()).get(e.getValue());
                if (v == null || !v.isNumber()) {
                    complete = false;
                    break;
                }
                sum += v.asDouble();
            }
            avg[i] = sum / LEADERBOARD.size();
        }
        if (complete) {
            out.add(new Row("Open LLM Leaderboard v1 average", "mean of 6", "", true, avg, new Object[models.size()]));
        }
        return out;
    }

    private static String cell(Row r, int i) {
        if (r.values()[i] == null) {
            return "";
        }
        String v = ResultsTable.fixed4(r.values()[i]);
        Object se = r.stderrs()[i];
        return se instanceof Double d ? v + " ± " + ResultsTable.fixed4(d) : v;
    }

    /** A Markdown table, the best value of each row in bold. */
    public String markdown() {
        List<String> headers = new ArrayList<>(List.of("Task", "Metric", "Filter"));
        models.forEach(m -> headers.add(m.name()));
        List<List<String>> table = new ArrayList<>();
        String previous = null;
        for (Row r : rows) {
            List<String> line = new ArrayList<>();
            line.add(r.task().equals(previous) ? "" : r.task());
            previous = r.task();
            line.add(r.metric() + (Boolean.TRUE.equals(r.higherIsBetter()) ? " ↑" : Boolean.FALSE.equals(r.higherIsBetter()) ? " ↓" : ""));
            line.add(r.filter());
            int best = r.best();
            for (int i = 0; i < models.size(); i++) {
                String c = cell(r, i);
                line.add(i == best ? "**" + c + "**" : c);
            }
            table.add(line);
        }
        return ResultsTable.markdown(headers, table);
    }

    /** A self-contained HTML page with the same table. */
    public String html() {
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Model comparison</title>\n<style>\n")
                .append("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}")
                .append("th,td{border:1px solid #ccc;padding:4px 10px}td.num{text-align:right;font-variant-numeric:")
                .append("tabular-nums}td.best{background:#d9f2d9;font-weight:bold}.se{color:#777;font-size:85%}")
                .append("tr.avg td{border-top:2px solid #333}\n</style></head><body>\n<h1>Model comparison</h1>\n<ol>\n");
        for (Model m : models) {
            sb.append("<li><b>").append(esc(m.name())).append("</b>: ").append(esc(m.file().toString())).append("</li>\n");
        }
        sb.append("</ol>\n<table>\n<tr><th>Task</th><th>Metric</th><th>Filter</th>");
        models.forEach(m -> sb.append("<th>").append(esc(m.name())).append("</th>"));
        sb.append("</tr>\n");
        for (Row r : rows) {
            int best = r.best();
            sb.append(r.metric().equals("mean of 6") ? "<tr class=\"avg\">" : "<tr>").append("<td>").append(esc(r.task()))
                    .append("</td><td>").append(esc(r.metric())).append(Boolean.TRUE.equals(r.higherIsBetter()) ? " ↑"
                            : Boolean.FALSE.equals(r.higherIsBetter()) ? " ↓" : "").append("</td><td>")
                    .append(esc(r.filter())).append("</td>");
            for (int i = 0; i < models.size(); i++) {
                sb.append(i == best ? "<td class=\"num best\">" : "<td class=\"num\">");
                if (r.values()[i] != null) {
                    sb.append(ResultsTable.fixed4(r.values()[i]));
                    if (r.stderrs()[i] instanceof Double d) {
                        sb.append(" <span class=\"se\">± ").append(ResultsTable.fixed4(d)).append("</span>");
                    }
                }
                sb.append("</td>");
            }
            sb.append("</tr>\n");
        }
        sb.append("</table>\n<p>Best value of each row highlighted (by the metric's direction). Generated by ")
                .append("<code>crucible eval compare</code>.</p>\n</body></html>\n");
        return sb.toString();
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
