package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;

/**
 * An output file of rows (JSON Lines, or Parquet by extension) written to a hidden temporary sibling and renamed
 * over the target only by {@link #publish}, so a failed or interrupted run leaves the previous file (or nothing)
 * where the user looks. Parquet is made at publish time by DuckDB from the JSON Lines written so far, with column
 * types inferred over all rows.
 */
final class RowFile implements AutoCloseable {
    /** Temporary files of unpublished outputs, deleted if the JVM exits first (Ctrl-C). */
    private static final java.util.Set<Path> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(p -> {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // exiting anyway
            }
        })));
    }

    private final Path target;
    private final Path lines;
    private final boolean parquet;
    private final BufferedWriter out;
    private long rows;
    private boolean published;

    private RowFile(Path target, Path lines, boolean parquet, BufferedWriter out) {
        this.target = target;
        this.lines = lines;
        this.parquet = parquet;
        this.out = out;
    }

    static RowFile create(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        boolean parquet = abs.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet");
        try {
            Files.createDirectories(abs.getParent());
            Path tmp = temp(abs, parquet ? ".jsonl" : "");
            OPEN.add(tmp);
            OPEN.add(temp(abs, ".parquet"));
            return new RowFile(abs, tmp, parquet, Files.newBufferedWriter(tmp, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new CrucibleException(abs + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** A hidden sibling of {@code target} for this process. */
    static Path temp(Path target, String suffix) {
        return target.resolveSibling("." + target.getFileName() + ".crucible-tmp-" + ProcessHandle.current().pid() + suffix);
    }

    void write(String json) {
        try {
            out.write(json);
            out.write('\n');
            rows++;
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    long rows() {
        return rows;
    }

    Path target() {
        return target;
    }

    /** Finishes the file (Parquet conversion) and renames it into place. */
    void publish() {
        try {
            out.close();
            Path done = lines;
            if (parquet) {
                done = temp(target, ".parquet");
                toParquet(lines, done, rows);
                Files.deleteIfExists(lines);
            }
            move(done, target);
            published = true;
            OPEN.remove(lines);
            OPEN.remove(temp(target, ".parquet"));
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Writes a whole text file (the report) through a temporary sibling. */
    static void publishText(Path target, String text) {
        Path abs = target.toAbsolutePath().normalize();
        Path tmp = temp(abs, "");
        try {
            Files.createDirectories(abs.getParent());
            OPEN.add(tmp);
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            move(tmp, abs);
        } catch (IOException e) {
            throw new CrucibleException(abs + ": cannot write: " + e.getMessage(), e);
        } finally {
            OPEN.remove(tmp);
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // moved, or nothing to clean
            }
        }
    }

    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void toParquet(Path jsonl, Path parquet, long rows) {
        String in = quote(jsonl);
        String source = rows == 0 ? "SELECT NULL::VARCHAR AS empty WHERE false"
                : "SELECT * FROM read_json(" + in + ", format = 'newline_delimited', sample_size = -1)";
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
             Statement s = c.createStatement()) {
            s.execute("SET preserve_insertion_order = true");
            s.execute("COPY (" + source + ") TO " + quote(parquet) + " (FORMAT parquet)");
        } catch (SQLException e) {
            throw new CrucibleException(parquet.resolveSibling(parquet.getFileName().toString()) + ": DuckDB could not"
                    + " write Parquet: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    private static String quote(Path p) {
        return "'" + p.toAbsolutePath().toString().replace("'", "''") + "'";
    }

    /** Deletes the temporary files unless published. */
    @Override
    public void close() {
        if (published) {
            return;
        }
        try {
            out.close();
        } catch (IOException ignored) {
            // the temporary file is deleted below either way
        }
        try {
            Files.deleteIfExists(lines);
            Files.deleteIfExists(temp(target, ".parquet"));
        } catch (IOException ignored) {
            // best effort: a hidden temporary file is all that can remain
        }
        OPEN.remove(lines);
        OPEN.remove(temp(target, ".parquet"));
    }
}
