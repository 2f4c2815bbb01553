package dev.crucible;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * The progress bar of every long job, one line on stderr redrawn in place: items done of the total (tensors,
 * tokens, ...), optionally bytes, the rate and the time left; a newline ends it once all items are done.
 * Redraws at most every 200 ms so a fast loop does not flood the terminal. A disabled bar prints nothing:
 * callers pass {@code enabled = false} for {@code --quiet} or when stderr is not a terminal ({@link #interactive()}).
 * Thread-safe: workers may report from any thread.
 */
public final class ProgressBar {
    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintWriter err;
    private final String label;
    private final String unit;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long total;
    private long totalBytes;
    private long done;
    private long bytes;
    private long lastDraw;

    /** @param unit what the items are, plural ("tensors", "tokens") */
    public ProgressBar(PrintWriter err, String label, String unit, boolean enabled) {
        this.err = err;
        this.label = label;
        this.unit = unit;
        this.enabled = enabled;
    }

    public ProgressBar(PrintStream err, String label, String unit, boolean enabled) {
        this(new PrintWriter(err), label, unit, enabled);
    }

    /** Whether a bar makes sense: an interactive terminal on the console. */
    public static boolean interactive() {
        return System.console() != null && System.console().isTerminal();
    }

    /** Sets the totals for {@link #add}; {@code totalBytes} 0 leaves bytes out of the line. */
    public synchronized ProgressBar expect(long items, long totalBytes) {
        this.total = items;
        this.totalBytes = totalBytes;
        return this;
    }

    /** Counts {@code items} more items of {@code itemBytes} bytes together. */
    public synchronized void add(long items, long itemBytes) {
        report(done + items, total, bytes + itemBytes, totalBytes);
    }

    /** Reports absolute progress; totals may change as the job learns them (0 bytes totals leave bytes out). */
    public synchronized void update(long done, long total, long bytes, long totalBytes) {
        report(done, total, bytes, totalBytes);
    }

    private void report(long done, long total, long bytes, long totalBytes) {
        this.done = done;
        this.total = total;
        this.bytes = bytes;
        this.totalBytes = totalBytes;
        long now = System.nanoTime();
        boolean finished = done >= total;
        if (!enabled || (!finished && now - lastDraw < REDRAW_NANOS)) {
            return;
        }
        lastDraw = now;
        draw(now, finished);
    }

    private void draw(long now, boolean finished) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        boolean withBytes = totalBytes > 0;
        double fraction = withBytes ? (double) bytes / totalBytes : total == 0 ? 1 : (double) done / total;
        int filled = (int) Math.min(WIDTH, Math.max(0, WIDTH * fraction));
        double rate = (withBytes ? bytes : done) / secs;
        double left = withBytes ? totalBytes - bytes : total - done;
        long eta = rate > 0 ? Math.round(left / rate) : 0;
        StringBuilder line = new StringBuilder("\r").append(label).append(" [").append("#".repeat(filled))
                .append(".".repeat(WIDTH - filled)).append("] ").append(done).append('/').append(total).append(' ')
                .append(unit);
        if (withBytes) {
            line.append("  ").append(bytes(bytes)).append('/').append(bytes(totalBytes)).append("  ")
                    .append(bytes((long) rate)).append("/s");
        } else {
            line.append(String.format(Locale.ROOT, "  %.1f %s/s", rate, unit));
        }
        line.append(String.format(Locale.ROOT, "  ETA %d:%02d ", eta / 60, eta % 60));
        err.print(line);
        if (finished) {
            err.println();
        }
        err.flush();
    }

    /** A byte count for people: "1.25 GB", "3.4 MB", "0.5 kB". */
    public static String bytes(long b) {
        if (b >= 1L << 30) {
            return String.format(Locale.ROOT, "%.2f GB", b / 1e9);
        }
        if (b >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MB", b / 1e6);
        }
        return String.format(Locale.ROOT, "%.1f kB", b / 1e3);
    }
}
