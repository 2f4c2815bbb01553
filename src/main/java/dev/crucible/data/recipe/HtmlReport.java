package dev.crucible.data.recipe;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The recipe report: one self-contained HTML page (inline CSS and SVG, no script, no external resource, so it opens
 * offline and can be mailed): rows in and out per step and per input, token length and turn histograms before and
 * after, the most frequent openings of the instructions, and removed rows with their reasons.
 */
public final class HtmlReport {
    private static final String BEFORE = "#9aa5b1";
    private static final String AFTER = "#2f7ed8";

    private HtmlReport() {
    }

    public static String render(Recipe recipe, RunResult r) {
        String title = recipe == null ? "Dataset statistics" : "Dataset recipe: " + recipe.file().getFileName();
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>").append(esc(title))
                .append("</title>\n<style>\n").append(CSS).append("</style></head>\n<body>\n<h1>").append(esc(title))
                .append("</h1>\n");
        h.append("<p class=\"sub\">").append(esc(r.engine()));
        if (recipe != null) {
            h.append(" &middot; seed ").append(recipe.seed()).append(" &middot; ").append(esc(recipe.file().toString()));
        }
        h.append(" &middot; lengths in ").append(esc(r.tokens())).append("</p>\n");
        cards(h, r);
        if (recipe != null) {
            steps(h, recipe, r);
        }
        inputs(h, r);
        lengths(h, r);
        turns(h, r);
        openings(h, r);
        examples(h, r);
        notes(h, r);
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void cards(StringBuilder h, RunResult r) {
        h.append("<div class=\"cards\">");
        card(h, "rows in", r.rowsIn());
        if (r.removers().size() > 1 || r.rowsKept() != r.rowsIn()) {
            card(h, "rows kept", r.rowsKept());
            card(h, "rows removed", r.rowsIn() - r.rowsKept());
            card(h, "rows written", r.rowsWritten());
        }
        card(h, r.tokens() + " in", r.before().totalTokens());
        if (r.after().rows() > 0 || r.rowsKept() != r.rowsIn()) {
            card(h, r.tokens() + " out", r.after().totalTokens());
        }
        h.append("</div>\n");
    }

    private static void card(StringBuilder h, String label, long value) {
        h.append("<div class=\"card\"><div class=\"v\">").append(num(value)).append("</div><div class=\"l\">")
                .append(esc(label)).append("</div></div>");
    }

    private static void steps(StringBuilder h, Recipe recipe, RunResult r) {
        h.append("<h2>Rows through the steps</h2>\n<table><tr><th>step</th><th>rows in</th><th>removed</th>"
                + "<th>rows out</th><th class=\"bar\">kept / removed</th><th>compute s</th></tr>\n");
        for (RunResult.StepLine l : r.stepLines(recipe)) {
            h.append("<tr><td>").append(esc(l.label())).append("</td><td>").append(num(l.in())).append("</td><td>")
                    .append(num(l.removed())).append("</td><td>").append(num(l.out())).append("</td><td class=\"bar\">")
                    .append(split(l.out(), l.removed())).append("</td><td>")
                    .append(Double.isNaN(l.seconds()) ? "" : String.format(Locale.ROOT, "%.2f", l.seconds()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static String split(long kept, long removed) {
        long total = Math.max(1, kept + removed);
        double k = 100.0 * kept / total;
        return String.format(Locale.ROOT, "<svg width=\"200\" height=\"12\" role=\"img\"><rect width=\"%.1f\" height=\"12\""
                + " fill=\"%s\"/><rect x=\"%.1f\" width=\"%.1f\" height=\"12\" fill=\"#e4572e\"/></svg>", 2 * k, AFTER,
                2 * k, 200 - 2 * k);
    }

    private static void inputs(StringBuilder h, RunResult r) {
        h.append("<h2>Inputs</h2>\n<table><tr><th>input</th><th>rows</th>");
        List<Integer> used = new ArrayList<>();
        for (int c = 1; c < r.removers().size(); c++) {
            if (r.removedBy(c) > 0) {
                used.add(c);
                h.append("<th>").append(esc(r.removers().get(c))).append("</th>");
            }
        }
        h.append("<th>kept</th><th>written</th></tr>\n");
        for (int i = 0; i < r.inputNames().size(); i++) {
            long rows = 0;
            for (long v : r.counts()[i]) {
                rows += v;
            }
            h.append("<tr><td>").append(esc(r.inputNames().get(i))).append("</td><td>").append(num(rows)).append("</td>");
            for (int c : used) {
                h.append("<td>").append(num(r.counts()[i][c])).append("</td>");
            }
            h.append("<td>").append(num(r.counts()[i][0])).append("</td><td>").append(num(r.written()[i]))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static void lengths(StringBuilder h, RunResult r) {
        ReportStats b = r.before();
        ReportStats a = r.after();
        h.append("<h2>Length in ").append(esc(r.tokens())).append("</h2>\n");
        h.append("<table class=\"small\"><tr><th></th><th>rows</th><th>mean</th><th>median</th><th>p90</th><th>p99</th>"
                + "<th>max</th></tr>\n");
        quantiles(h, "before", b);
        if (a.rows() > 0 || r.rowsKept() != r.rowsIn()) {
            quantiles(h, "after", a);
        }
        h.append("</table>\n");
        long[] hb = b.tokenHistogram();
        long[] ha = a.tokenHistogram();
        int max = Math.max(b.tokenQuantile(0.99), a.tokenQuantile(0.99));
        int bins = 40;
        int width = Math.max(1, (int) Math.ceil((max + 1) / (double) bins));
        long[] binsBefore = bin(hb, width, bins);
        long[] binsAfter = bin(ha, width, bins);
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < bins; i++) {
            labels.add(i == bins - 1 ? "\u2265" + num((long) i * width) : num((long) i * width));
        }
        h.append(chart(labels, binsBefore, a.rows() > 0 ? binsAfter : null, "rows"));
    }

    private static void quantiles(StringBuilder h, String label, ReportStats s) {
        long[] hist = s.tokenHistogram();
        h.append("<tr><td>").append(label).append("</td><td>").append(num(s.rows())).append("</td><td>")
                .append(String.format(Locale.ROOT, "%.1f", s.meanTokens())).append("</td><td>")
                .append(num(s.tokenQuantile(0.5))).append("</td><td>").append(num(s.tokenQuantile(0.9))).append("</td><td>")
                .append(num(s.tokenQuantile(0.99))).append("</td><td>").append(num(Math.max(0, hist.length - 1)))
                .append("</td></tr>\n");
    }

    /** Sums a per-value histogram into {@code bins} bins of {@code width} values, the last one open-ended. */
    private static long[] bin(long[] hist, int width, int bins) {
        long[] out = new long[bins];
        for (int v = 0; v < hist.length; v++) {
            out[Math.min(bins - 1, v / width)] += hist[v];
        }
        return out;
    }

    private static void turns(StringBuilder h, RunResult r) {
        long[] b = r.before().turnHistogram();
        long[] a = r.after().turnHistogram();
        int bins = Math.min(12, Math.max(b.length, a.length));
        if (bins <= 1 && (b.length == 0 || b[0] == r.before().rows())) {
            return; // plain text rows have no turns: nothing to draw
        }
        h.append("<h2>Turns per conversation</h2>\n<p class=\"sub\">a turn is one assistant reply</p>\n");
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < bins; i++) {
            labels.add(i == bins - 1 && Math.max(b.length, a.length) > bins ? "\u2265" + i : String.valueOf(i));
        }
        h.append(chart(labels, bin(b, 1, bins), a.length > 0 ? bin(a, 1, bins) : null, "rows"));
    }

    private static void openings(StringBuilder h, RunResult r) {
        ReportStats s = r.after().rows() > 0 ? r.after() : r.before();
        List<Map.Entry<String, Long>> top = s.topFirstWords(20);
        if (top.isEmpty()) {
            return;
        }
        h.append("<h2>How instructions open</h2>\n<p class=\"sub\">first words of the instruction (first user message) in ")
                .append(s == r.after() ? "the output" : "the input").append(", ")
                .append(num(s.distinctFirstWords())).append(" distinct; a few openings dominating means little variety</p>\n");
        long max = top.getFirst().getValue();
        h.append("<table class=\"open\">\n");
        for (Map.Entry<String, Long> e : top) {
            StringBuilder next = new StringBuilder();
            for (Map.Entry<String, Long> second : s.topSecondWords(e.getKey(), 3)) {
                next.append(next.isEmpty() ? "" : ", ").append(esc(second.getKey())).append(" (").append(num(second.getValue()))
                        .append(")");
            }
            double w = 300.0 * e.getValue() / max;
            h.append(String.format(Locale.ROOT, "<tr><td class=\"w\">%s</td><td><svg width=\"300\" height=\"12\">"
                            + "<rect width=\"%.1f\" height=\"12\" fill=\"%s\"/></svg></td><td>%s</td><td class=\"n\">%s"
                            + "</td></tr>\n", esc(e.getKey()), w, AFTER, num(e.getValue()), next));
        }
        h.append("</table>\n");
    }

    private static void examples(StringBuilder h, RunResult r) {
        if (r.examples().isEmpty()) {
            return;
        }
        h.append("<h2>Removed rows, by reason</h2>\n<p class=\"sub\">the first rows each step removed; all of them are"
                + " in the removed file with <code>removed_by</code> and <code>reason</code></p>\n");
        for (Map.Entry<String, List<RunResult.Example>> e : r.examples().entrySet()) {
            h.append("<h3>").append(esc(e.getKey())).append("</h3>\n<table class=\"ex\"><tr><th>row</th><th>reason</th>"
                    + "<th>text</th></tr>\n");
            for (RunResult.Example x : e.getValue()) {
                h.append("<tr><td class=\"n\">").append(esc(x.where())).append("</td><td>").append(esc(x.reason()))
                        .append("</td><td><pre>").append(esc(x.text())).append("</pre></td></tr>\n");
            }
            h.append("</table>\n");
        }
    }

    private static void notes(StringBuilder h, RunResult r) {
        h.append("<h2>Run</h2>\n<table class=\"small\"><tr><th>pass</th><th>rows</th><th>seconds</th><th>rows/s</th></tr>\n");
        for (RunResult.Timing t : r.passes()) {
            h.append("<tr><td>").append(esc(t.what())).append("</td><td>").append(t.rows() == 0 ? "" : num(t.rows()))
                    .append("</td><td>").append(String.format(Locale.ROOT, "%.2f", t.seconds())).append("</td><td>")
                    .append(t.rows() == 0 ? "" : num(Math.round(t.rowsPerSecond()))).append("</td></tr>\n");
        }
        h.append("</table>\n");
        if (!r.notes().isEmpty()) {
            h.append("<ul class=\"notes\">");
            r.notes().forEach(n -> h.append("<li>").append(esc(n)).append("</li>"));
            h.append("</ul>\n");
        }
    }

    /** A bar chart of one or two series over the same labels (before in grey, after in blue). */
    static String chart(List<String> labels, long[] a, long[] b, String unit) {
        int n = labels.size();
        int width = 760;
        int height = 200;
        int left = 56;
        int bottom = 36;
        long max = 1;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, Math.max(a[i], b == null ? 0 : b[i]));
        }
        double slot = (width - left - 8) / (double) n;
        double bar = b == null ? slot * 0.8 : slot * 0.4;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " role=\"img\">", width, height + 24, width, height + 24));
        int plot = height - bottom;
        for (int g = 0; g <= 4; g++) {
            double y = 8 + plot - plot * g / 4.0;
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e7eb\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%s</text>", left, width - 8, y, y,
                    left - 6, y + 4, num(Math.round(max * g / 4.0))));
        }
        for (int i = 0; i < n; i++) {
            double x = left + i * slot + (slot - (b == null ? bar : 2 * bar)) / 2;
            s.append(rect(x, a[i], max, plot, bar, BEFORE.equals(BEFORE) && b != null ? BEFORE : AFTER, labels.get(i), unit));
            if (b != null) {
                s.append(rect(x + bar, b[i], max, plot, bar, AFTER, labels.get(i), unit));
            }
            if (n <= 16 || i % Math.max(1, n / 10) == 0) {
                s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" class=\"ax\" text-anchor=\"middle\">%s"
                        + "</text>", left + i * slot + slot / 2, plot + 24, esc(labels.get(i))));
            }
        }
        if (b != null) {
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                    + "<text x=\"%d\" y=\"%d\" class=\"ax\">before</text><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\""
                    + " fill=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"ax\">after</text>", left, height + 10, BEFORE,
                    left + 14, height + 19, left + 70, height + 10, AFTER, left + 84, height + 19));
        }
        return s.append("</svg>\n").toString();
    }

    private static String rect(double x, long v, long max, int plot, double w, String color, String label, String unit) {
        double bh = plot * (double) v / max;
        return String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                + "<title>%s: %s %s</title></rect>", x, 8 + plot - bh, Math.max(0.5, w - 1), bh, color, esc(label), num(v), unit);
    }

    static String num(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;margin:24px auto;max-width:1000px;padding:0 16px}
            h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e3e7eb;padding-bottom:4px}
            h3{font-size:14px;margin:16px 0 6px;font-family:ui-monospace,monospace}
            .sub{color:#616e7c;margin:2px 0 10px}
            .cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
            .card{background:#f5f7fa;border-radius:6px;padding:8px 14px;min-width:110px}
            .card .v{font-size:20px;font-weight:600} .card .l{color:#616e7c;font-size:12px}
            table{border-collapse:collapse;margin:6px 0} th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eef1f4;vertical-align:top}
            th{background:#f5f7fa;font-weight:600} td:first-child,th:first-child{text-align:left}
            td.bar,th.bar{text-align:left} .open td.w{font-family:ui-monospace,monospace}
            td.n{color:#616e7c;font-size:12px;text-align:left}
            .ex td,.ex th{text-align:left;max-width:420px} .ex pre{white-space:pre-wrap;margin:0;font-size:12px;max-height:9em;overflow:auto}
            svg.chart .ax{font-size:10px;fill:#616e7c} .notes{color:#52606d}
            """;
}
