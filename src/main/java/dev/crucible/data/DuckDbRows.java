package dev.crucible.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Parquet and CSV through an in-memory DuckDB (its JDBC jar carries the native library, nothing is downloaded).
 * Each row is converted by DuckDB itself to JSON ({@code to_json}) so nested lists and structs (ShareGPT
 * conversations in Parquet) arrive as the same maps and lists as a JSON file gives. Row numbers are 1-based in
 * file order (for CSV: data rows after the header line; every CSV cell is read as text).
 */
final class DuckDbRows {
    private DuckDbRows() {
    }

    static List<DatasetRow> read(Path file, String kind) {
        List<DatasetRow> rows = new ArrayList<>();
        stream(file, kind, (unit, number, json) -> rows.add(new DatasetRow(file, unit, number, parse(json, file, number))));
        return rows;
    }

    /** Each row as the JSON text of DuckDB's {@code to_json}, in file order, without holding them all. */
    static void stream(Path file, String kind, DatasetReader.RecordSink sink) {
        String sql = "SELECT to_json(t) FROM " + source(file, kind) + " t";
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
             Statement s = c.createStatement()) {
            s.execute("SET preserve_insertion_order = true");
            try (ResultSet r = s.executeQuery(sql)) {
                long number = 0;
                while (r.next()) {
                    number++;
                    sink.accept("row", number, r.getString(1));
                }
            }
        } catch (SQLException e) {
            throw new CrucibleException(file + ": cannot read as " + kind + ": " + firstLine(e.getMessage()), e);
        }
    }

    /** The number of rows (for Parquet from the file's metadata). */
    static long count(Path file, String kind) {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM " + source(file, kind))) {
            r.next();
            return r.getLong(1);
        } catch (SQLException e) {
            throw new CrucibleException(file + ": cannot read as " + kind + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static String source(Path file, String kind) {
        String quoted = "'" + file.toAbsolutePath().toString().replace("'", "''") + "'";
        // CSV cells stay text: type sniffing would turn an output "007" into the number 7
        return kind.equals("parquet") ? "read_parquet(" + quoted + ")"
                : "read_csv(" + quoted + ", header = true, all_varchar = true)";
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String json, Path file, long number) {
        try {
            return DatasetReader.JSON.readValue(json, Map.class);
        } catch (JsonProcessingException e) {
            throw new CrucibleException(file + " row " + number + ": DuckDB gave invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
