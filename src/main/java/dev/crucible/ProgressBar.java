package dev.crucible;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * The progress bar of every long job on stderr: items done of the total (tensors, tokens, ...), optionally bytes,
 * the rate and the time left. On a terminal it is one line redrawn in place with {@code \r} (at most every
 * 200 ms, so a fast loop does not flood it); anywhere else (stderr to a file or a pipe: logs, CI) it prints a plain
 * line every {@value #LOG_SECONDS} seconds instead, so a log holds readable lines and no carriage returns. Either
 * way the last state is printed once all items are done. A disabled bar ({@code --quiet}) prints nothing.
 * Thread-safe: workers may report from any thread.
 */
public final class ProgressBar {
    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final int LOG_SECONDS = 10;
    /** Set by the launcher from {@code [ -t 2 ]}: whether stderr is a terminal (Java cannot ask about stderr). */
    private static final String TERMINAL_PROPERTY = "crucible.stderr.terminal";

    private final PrintWriter err;
    private final String label;
    private final String unit;
    private final boolean enabled;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long total;
    private long totalBytes;
    private long done;
    private long bytes;
    private long lastDraw;

    /**
     * @param unit     what the items are, plural ("tensors", "tokens")
     * @param enabled  false for {@code --quiet}
     * @param terminal redraw in place ({@link #stderrIsTerminal()} for stderr), else periodic plain lines
     */
    public ProgressBar(PrintWriter err, String label, String unit, boolean enabled, boolean terminal) {
        this.err = err;
        this.label = label;
        this.unit = unit;
        this.enabled = enabled;
        this.terminal = terminal;
    }

    /** A bar on stderr ({@code err} is stderr or what stands for it), drawn as {@link #stderrIsTerminal()} says. */
    public ProgressBar(PrintWriter err, String label, String unit, boolean enabled) {
        this(err, label, unit, enabled, stderrIsTerminal());
    }

    public ProgressBar(PrintStream err, String label, String unit, boolean enabled) {
        this(new PrintWriter(err), label, unit, enabled);
    }

    /**
     * Whether stderr is a terminal: the launcher's answer when it gave one, else whether the JVM has an interactive
     * console (stdin and stdout on a terminal, the closest Java can tell by itself).
     */
    public static boolean stderrIsTerminal() {
        String told = System.getProperty(TERMINAL_PROPERTY);
        if (told != null) {
            return Boolean.parseBoolean(told);
        }
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
        if (!enabled || (!finished && !due(now))) {
            return;
        }
        lastDraw = now;
        show(line(now), finished);
    }

    /** Whether enough time passed since the last line: 200 ms on a terminal, {@value #LOG_SECONDS} s in a log. */
    private boolean due(long now) {
        long since = now - (lastDraw == 0 ? start : lastDraw);
        return terminal ? lastDraw == 0 || since >= REDRAW_NANOS : since >= LOG_SECONDS * 1_000_000_000L;
    }

    /**
     * Shows a status line of the caller's own making (e.g. a training step's loss), as a bar's line is shown:
     * redrawn in place on a terminal, every {@value #LOG_SECONDS} s (and the {@code last} one) elsewhere.
     */
    public synchronized void status(String text, boolean last) {
        long now = System.nanoTime();
        if (!enabled || (!last && !due(now))) {
            return;
        }
        lastDraw = now;
        show(text, last);
    }

    private void show(String text, boolean finished) {
        if (terminal) {
            err.print("\r" + text);
            if (finished) {
                err.println();
            }
        } else {
            err.println(text.stripTrailing());
        }
        err.flush();
    }

    private String line(long now) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        boolean withBytes = totalBytes > 0;
        double fraction = withBytes ? (double) bytes / totalBytes : total == 0 ? 1 : (double) done / total;
        int filled = (int) Math.min(WIDTH, Math.max(0, WIDTH * fraction));
        double rate = (withBytes ? bytes : done) / secs;
        double left = withBytes ? totalBytes - bytes : total - done;
        long eta = rate > 0 ? Math.round(left / rate) : 0;
        StringBuilder line = new StringBuilder(label).append(" [").append("#".repeat(filled))
                .append(".".repeat(WIDTH - filled)).append("] ").append(done).append('/').append(total).append(' ')
                .append(unit);
        if (withBytes) {
            line.append("  ").append(bytes(bytes)).append('/').append(bytes(totalBytes)).append("  ")
                    .append(bytes((long) rate)).append("/s");
        } else {
            line.append(String.format(Locale.ROOT, "  %.1f %s/s", rate, unit));
        }
        line.append(String.format(Locale.ROOT, "  ETA %d:%02d ", eta / 60, eta % 60));
        return line.toString();
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
