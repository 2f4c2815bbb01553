package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A self-contained HTML page with SVG charts by step: training loss (and evaluation loss), then one chart per extra
 * metric of the log that the objective names (a preference method's reward accuracy and margin, with their
 * evaluation values).
 */
final class LossChart {
    private static final int WIDTH = 720;
    private static final int HEIGHT = 360;
    private static final int SMALL_HEIGHT = 240;
    private static final int MARGIN = 48;

    private LossChart() {
    }

    static void write(Path file, JsonNode history, List<String> metrics) {
        StringBuilder html = new StringBuilder("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Training loss"
                + "</title></head><body>");
        html.append("<h3>Training loss (blue) and evaluation loss (red)</h3>")
                .append(chart(series(history, "loss"), series(history, "eval_loss"), HEIGHT));
        for (String metric : metrics) {
            List<double[]> train = series(history, metric);
            if (!train.isEmpty()) {
                html.append("<h3>").append(metric).append(" (blue; evaluation red)</h3>")
                        .append(chart(train, series(history, "eval_" + metric), SMALL_HEIGHT));
            }
        }
        html.append("</body></html>\n");
        try {
            Files.writeString(file, html);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static List<double[]> series(JsonNode history, String key) {
        List<double[]> out = new ArrayList<>();
        for (JsonNode row : history) {
            if (row.path(key).isNumber() && Double.isFinite(row.get(key).asDouble())) {
                out.add(new double[]{row.path("step").asDouble(), row.get(key).asDouble()});
            }
        }
        return out;
    }

    private static String chart(List<double[]> train, List<double[]> eval, int height) {
        double maxStep = 1;
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (List<double[]> series : List.of(train, eval)) {
            for (double[] p : series) {
                maxStep = Math.max(maxStep, p[0]);
                lo = Math.min(lo, p[1]);
                hi = Math.max(hi, p[1]);
            }
        }
        if (!(hi > lo)) {
            lo = lo == Double.POSITIVE_INFINITY ? 0 : lo - 0.5;
            hi = lo + 1;
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d'>", WIDTH, height));
        svg.append(String.format(Locale.ROOT, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>",
                MARGIN, MARGIN / 2, WIDTH - MARGIN * 3 / 2, height - MARGIN * 3 / 2));
        svg.append(String.format(Locale.ROOT, "<text x='4' y='%d' font-size='12'>%.3f</text>", MARGIN / 2 + 10, hi));
        svg.append(String.format(Locale.ROOT, "<text x='4' y='%d' font-size='12'>%.3f</text>", height - MARGIN, lo));
        svg.append(String.format(Locale.ROOT, "<text x='%d' y='%d' font-size='12'>step %d</text>", WIDTH - MARGIN * 2,
                height - 8, (long) maxStep));
        svg.append(polyline(train, maxStep, lo, hi, height, "#1f77b4"));
        svg.append(polyline(eval, maxStep, lo, hi, height, "#d62728"));
        return svg.append("</svg>").toString();
    }

    private static String polyline(List<double[]> points, double maxStep, double lo, double hi, int height, String colour) {
        if (points.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder("<polyline fill='none' stroke='" + colour + "' stroke-width='2' points='");
        double plotW = WIDTH - MARGIN * 3 / 2.0;
        double plotH = height - MARGIN * 3 / 2.0;
        for (double[] p : points) {
            double x = MARGIN + plotW * p[0] / maxStep;
            double y = MARGIN / 2.0 + plotH * (hi - p[1]) / (hi - lo);
            sb.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
        }
        return sb.append("'/>").toString();
    }
}
