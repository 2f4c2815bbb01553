package dev.crucible.merge;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr: tensors, bytes written, rate and ETA. Silent when stderr is not a terminal
 * (or with {@code --quiet}), so logs and tests stay clean.
 */
public final class Progress {
    private final PrintStream err;
    private final boolean enabled;
    private final int totalTensors;
    private final long totalBytes;
    private final long start = System.nanoTime();
    private int tensors;
    private long bytes;
    private long lastDraw;

    public Progress(PrintStream err, boolean enabled, int totalTensors, long totalBytes) {
        this.err = err;
        this.enabled = enabled;
        this.totalTensors = totalTensors;
        this.totalBytes = totalBytes;
    }

    /** Whether a bar makes sense: an interactive terminal on stderr. */
    public static boolean interactive() {
        return System.console() != null && System.console().isTerminal();
    }

    public synchronized void done(long tensorBytes) {
        tensors++;
        bytes += tensorBytes;
        long now = System.nanoTime();
        if (enabled && (now - lastDraw > 100_000_000L || tensors == totalTensors)) {
            lastDraw = now;
            draw(now);
        }
    }

    private void draw(long now) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        double rate = bytes / secs;
        double eta = rate > 0 ? (totalBytes - bytes) / rate : 0;
        int width = 30;
        int filled = totalBytes == 0 ? width : (int) (width * bytes / totalBytes);
        err.printf("\rmerge [%s%s] %d/%d tensors  %s/%s  %s/s  ETA %s   ", "#".repeat(filled), " ".repeat(width - filled),
                tensors, totalTensors, human(bytes), human(totalBytes), human((long) rate), clock(eta));
        if (tensors == totalTensors) {
            err.println();
        }
        err.flush();
    }

    static String human(long b) {
        if (b >= 1L << 30) {
            return String.format("%.2f GB", b / 1e9);
        }
        if (b >= 1L << 20) {
            return String.format("%.1f MB", b / 1e6);
        }
        return String.format("%.1f kB", b / 1e3);
    }

    private static String clock(double secs) {
        long s = Math.round(secs);
        return String.format("%d:%02d", s / 60, s % 60);
    }
}
