package dev.crucible.bench;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/** A one-line progress bar on stderr: bytes done, rate and time left; redrawn at most a few times a second. */
final class Progress {
    private final String label;
    private final long total;
    private final PrintStream out;
    private final long start = System.nanoTime();
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong lastDraw = new AtomicLong();

    Progress(String label, long total, PrintStream out) {
        this.label = label;
        this.total = total;
        this.out = out;
    }

    void add(long bytes) {
        long d = done.addAndGet(bytes);
        long now = System.nanoTime();
        long last = lastDraw.get();
        if (d == total || (now - last > 250_000_000L && lastDraw.compareAndSet(last, now))) {
            draw(d, now);
        }
    }

    private synchronized void draw(long d, long now) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        double rate = d / secs;
        int width = 30;
        int filled = (int) (width * d / Math.max(1, total));
        String bar = "=".repeat(filled) + " ".repeat(width - filled);
        double eta = rate > 0 ? (total - d) / rate : 0;
        out.printf(Locale.ROOT, "\r%s [%s] %.2f/%.2f GB %.0f MB/s ETA %.0fs ", label, bar, d / 1e9, total / 1e9,
                rate / 1e6, eta);
        out.flush();
    }

    void done() {
        out.println();
    }
}
