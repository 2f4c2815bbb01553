package dev.crucible.cli;

import java.io.PrintStream;

/** A one-line progress bar on stderr: done/total units, rate and ETA, redrawn at most every 200 ms. */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final String label;
    private final String unit;
    private final PrintStream err;
    private final long start = System.nanoTime();
    private long lastDraw;

    ProgressBar(String label, String unit, PrintStream err) {
        this.label = label;
        this.unit = unit;
        this.err = err;
    }

    void update(long done, long total) {
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 200_000_000L) {
            return;
        }
        lastDraw = now;
        double seconds = (now - start) / 1e9;
        double rate = seconds > 0 ? done / seconds : 0;
        int filled = total == 0 ? WIDTH : (int) (WIDTH * done / total);
        long eta = rate > 0 ? Math.round((total - done) / rate) : 0;
        err.printf("\r%s [%s%s] %d/%d %s  %.1f %s/s  ETA %d:%02d ", label, "#".repeat(filled), ".".repeat(WIDTH - filled),
                done, total, unit, rate, unit, eta / 60, eta % 60);
        if (done >= total) {
            err.println();
        }
        err.flush();
    }
}
