package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.io.ModelConfig;
import dev.crucible.train.LossChart;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The quickstart's report.html: one self-contained page (no script, nothing fetched) with what each stage did, the
 * loss curves of every training run, the evaluation table with each merge next to its sources, and the merges.
 */
final class QuickstartReport {
    private static final String STYLE = "body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}"
            + "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
            + "td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}.good{background:#e3f4e3}.near{background:#fdf3d0}"
            + ".bad{background:#fbe3e3}"
            + "code{background:#f4f4f4;padding:1px 3px}.run{display:inline-block;vertical-align:top;margin-right:1em}";

    private QuickstartReport() {
    }

    static String html(Path out, JsonNode summary, List<Quickstart.Model> models) {
        StringBuilder h = new StringBuilder("<!DOCTYPE html><html><head><meta charset='utf-8'><title>crucible quickstart"
                + "</title><style>" + STYLE + "</style></head><body>");
        h.append("<h1>crucible quickstart</h1><p>").append(esc(String.format(Locale.ROOT,
                "The whole life cycle of a tiny Llama (4 layers, hidden 64) in %.0f s (%s run), every stage a Crucible"
                        + " command run on the YAML it wrote to configs/ and recipes/. Two skills: adding two digits"
                        + " (add) and picking the larger of two (larger).", summary.path("seconds").asDouble(),
                summary.path("size").asText()))).append("</p>");
        data(h, summary.path("data"));
        training(h, summary.path("runs"));
        evaluation(h, summary, models);
        merges(h, out, models);
        JsonNode g = summary.path("gguf");
        h.append("<h2>6. Export</h2><p>The best model by mean score, <b>").append(esc(g.path("model").asText()))
                .append("</b>, as GGUF q8_0 for llama.cpp, Ollama and LM Studio: <code>")
                .append(esc(g.path("file").asText())).append("</code> (").append(g.path("bytes").asLong() / 1024)
                .append(" KiB). Try it: <code>./crucible generate ").append(esc(out.resolve(g.path("file").asText())
                        .toString())).append(" --chat --prompt \"What is 3 plus 4?\" --max-new-tokens 4</code></p>");
        return h.append("</body></html>\n").toString();
    }

    private static void data(StringBuilder h, JsonNode data) {
        h.append("<h2>1. Data (crucible data run)</h2><p>Each set is a recipe (recipes/*.yml) over raw rows that hold"
                + " exact duplicates and rows asking the evaluation questions themselves; the recipe drops both."
                + " Reports: data/*.report.html.</p><table><tr><th>set</th><th>kept</th><th>removed by dedup</th>"
                + "<th>removed by decontamination</th></tr>");
        data.fields().forEachRemaining(e -> h.append("<tr><td>").append(esc(e.getKey())).append("</td><td>")
                .append(e.getValue().path("kept").asInt()).append("</td><td>")
                .append(e.getValue().path("removed").path("dedup:exact").asInt()).append("</td><td>")
                .append(e.getValue().path("removed").path("decontaminate").asInt()).append("</td></tr>"));
        h.append("</table>");
    }

    private static void training(StringBuilder h, JsonNode runs) {
        h.append("<h2>2-3. Training (crucible train)</h2><p>Training loss by step of every run (configs/NAME.yml;"
                + " each run's own charts are in models/NAME/loss.html).</p>");
        runs.fields().forEachRemaining(e -> {
            JsonNode log = e.getValue();
            h.append("<div class='run'><h3>").append(esc(e.getKey())).append("</h3><p>").append(String.format(Locale.ROOT,
                    "loss %.3f &rarr; %.3f over %d steps", log.get(0).path("loss").asDouble(),
                    log.get(log.size() - 1).path("loss").asDouble(), log.get(log.size() - 1).path("step").asInt()))
                    .append("</p>").append(LossChart.svg(log, "loss"));
            if (log.get(log.size() - 1).has("rewards/accuracies")) {
                // each logged row is one batch of 8 pairs: the last 5 together say more than the last alone
                int from = Math.max(0, log.size() - 5);
                h.append(String.format(Locale.ROOT, "<p>DPO, last %d batches: the policy prefers the chosen answer on"
                                + " %.0f%% of the pairs, reward margin %.3f (chosen %+.3f, rejected %+.3f: beta times the"
                                + " change of log-probability from sft-add)</p>", log.size() - from,
                        100 * mean(log, from, "rewards/accuracies"), mean(log, from, "rewards/margins"),
                        mean(log, from, "rewards/chosen"), mean(log, from, "rewards/rejected")))
                        .append(LossChart.svg(log, "rewards/margins"));
            }
            h.append("</div>");
        });
    }

    private static void evaluation(StringBuilder h, JsonNode summary, List<Quickstart.Model> models) {
        JsonNode scores = summary.path("scores");
        h.append("<h2>4. Evaluation (crucible eval tasks)</h2><p>Accuracy on questions phrased as no training row"
                + " phrases them (data/tasks/*.yaml, lm-evaluation-harness multiple choice; chance is about 0.29 for"
                + " add and 0.5 for larger). Each merge's score is green when it reaches the weaker of its sources on"
                + " that skill, yellow when it is below by less than two of that source's standard errors (noise on"
                + " 90 or 100 questions), red below that. eval/comparison.html has the standard errors.</p><table><tr><th>model</th>");
        for (String skill : Quickstart.SKILLS) {
            h.append("<th>").append(skill).append("</th>");
        }
        h.append("<th>mean</th><th>how it was made</th></tr>");
        Map<String, Double> means = Quickstart.means(scores);
        for (Quickstart.Model m : models) {
            h.append("<tr><td>").append(esc(m.name())).append("</td>");
            for (String skill : Quickstart.SKILLS) {
                double v = scores.path(m.name()).path(skill).asDouble();
                String cls = "";
                if (m.sources().size() == 2) {
                    cls = switch (Quickstart.againstWeakerSource(summary, m, skill)) {
                        case 1 -> " class='good'";
                        case 0 -> " class='near'";
                        default -> " class='bad'";
                    };
                }
                h.append("<td").append(cls).append(">").append(String.format(Locale.ROOT, "%.3f", v)).append("</td>");
            }
            h.append(String.format(Locale.ROOT, "<td>%.3f</td><td>", means.get(m.name()))).append(esc(m.how()))
                    .append("</td></tr>");
        }
        h.append("</table>");
    }

    private static void merges(StringBuilder h, Path out, List<Quickstart.Model> models) {
        h.append("<h2>5. Merges (crucible merge, crucible moe)</h2><table><tr><th>merge</th><th>layers</th>"
                + "<th>experts</th><th>what it did</th><th>config</th></tr>");
        for (Quickstart.Model m : models) {
            if (m.sources().size() != 2) {
                continue;
            }
            ModelConfig c = ModelConfig.read(out.resolve("models/" + m.name() + "/config.json"));
            h.append("<tr><td>").append(esc(m.name())).append("</td><td>").append(c.numHiddenLayers()).append("</td><td>")
                    .append(c.intOr("num_local_experts", 1)).append("</td><td>").append(esc(m.how()))
                    .append("</td><td><code>configs/").append(m.name()).append(".yml</code></td></tr>");
        }
        h.append("</table>");
    }

    private static double mean(JsonNode log, int from, String key) {
        double sum = 0;
        for (int i = from; i < log.size(); i++) {
            sum += log.get(i).path(key).asDouble();
        }
        return sum / (log.size() - from);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;");
    }
}
