package dev.crucible.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads dataset files into {@link DatasetRow}s: JSON Lines ({@code .jsonl}, {@code .ndjson}), JSON ({@code .json}:
 * an array of objects, an object with a {@code "data"} array, or JSON Lines saved as .json, as Hugging Face
 * {@code datasets} accepts), Parquet and CSV (through DuckDB), text (a row per line). Which files of a directory
 * are read, and in which order, is {@link DatasetSource}.
 */
public final class DatasetReader {
    static final ObjectMapper JSON = new ObjectMapper();

    private DatasetReader() {
    }

    /**
     * The rows of a file, or of a directory in Hugging Face {@code datasets}' default layout (its {@code train}
     * split), as a {@code datasets} entry with only a path reads them ({@link DatasetSource}).
     */
    public static List<DatasetRow> read(Path path) {
        return DatasetSource.of(path).read();
    }

    /** Receives the records of a file one at a time, as JSON text, with the unit ("line", "row") and its number. */
    public interface RecordSink {
        void accept(String unit, long number, String json);
    }

    /**
     * Streams the records of one file in {@code format} ({@link DatasetSource#fileFormat}) without holding them, as
     * JSON text: a JSON Lines file's non-blank lines exactly as written (not parsed: the caller parses them, so a
     * malformed line can be reported or skipped with its number), a JSON file's objects and a text file's
     * {@code {"text": line}} rows serialised compactly, a Parquet or CSV file's rows as DuckDB's {@code to_json}
     * writes them.
     */
    public static void stream(Path file, String format, RecordSink sink) {
        if (format.equals("parquet") || format.equals("csv")) {
            DuckDbRows.stream(file, format, sink);
            return;
        }
        if (format.equals("json") && isJsonLines(file)) {
            forEachLine(file, (line, number) -> {
                if (!line.isBlank()) {
                    sink.accept("line", number, line);
                }
            });
            return;
        }
        for (DatasetRow row : readFile(file, format)) {
            try {
                sink.accept(row.unit(), row.number(), JSON.writeValueAsString(row.fields()));
            } catch (JsonProcessingException e) {
                throw new CrucibleException(row.where() + ": " + e.getOriginalMessage(), e);
            }
        }
    }

    /**
     * The number of records {@link #stream} gives, counted cheaply (for progress bars): lines with a character other
     * than ASCII white space for JSON Lines, Parquet's row count from its metadata, CSV rows through DuckDB, the
     * records of a JSON or text file by reading it.
     */
    public static long count(Path file, String format) {
        if (format.equals("parquet") || format.equals("csv")) {
            return DuckDbRows.count(file, format);
        }
        if (!format.equals("json") || !isJsonLines(file)) {
            return readFile(file, format).size();
        }
        long lines = 0;
        boolean content = false;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    byte b = buf[i];
                    if (b == '\n') {
                        lines += content ? 1 : 0;
                        content = false;
                    } else if (b != ' ' && b != '\t' && b != '\r' && b != '\f' && b != 0x0B) {
                        content = true;
                    }
                }
            }
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
        return content ? lines + 1 : lines;
    }

    private static boolean isJsonLines(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jsonl") || name.endsWith(".ndjson");
    }

    /** The rows of one file in {@code format} (json: JSON Lines for .jsonl/.ndjson, else JSON; parquet; csv; text). */
    static List<DatasetRow> readFile(Path file, String format) {
        return switch (format) {
            case "json" -> isJsonLines(file) ? readJsonLines(file) : readJson(file);
            case "text" -> readText(file);
            default -> DuckDbRows.read(file, format);
        };
    }

    /** One row {"text": line} per line, as datasets' text builder reads a file. */
    private static List<DatasetRow> readText(Path file) {
        List<DatasetRow> rows = new ArrayList<>();
        forEachLine(file, (line, number) -> {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("text", line);
            rows.add(new DatasetRow(file, "line", number, fields));
        });
        return rows;
    }

    private interface LineConsumer {
        void accept(String line, long number);
    }

    private static void forEachLine(Path file, LineConsumer consumer) {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long number = 0;
            while ((line = in.readLine()) != null) {
                consumer.accept(line, ++number);
            }
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static List<DatasetRow> readJsonLines(Path file) {
        List<DatasetRow> rows = new ArrayList<>();
        forEachLine(file, (line, number) -> {
            if (!line.isBlank()) {
                rows.add(new DatasetRow(file, "line", number, parseObject(line, file, "line", number)));
            }
        });
        return rows;
    }

    private static Map<String, Object> parseObject(String text, Path file, String unit, long number) {
        Object v;
        try {
            v = JSON.readValue(text, Object.class);
        } catch (JsonProcessingException e) {
            throw new CrucibleException(file + " " + unit + " " + number + ": not valid JSON: "
                    + e.getOriginalMessage(), e);
        }
        return requireObject(v, file, unit, number);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> requireObject(Object v, Path file, String unit, long number) {
        if (!(v instanceof Map<?, ?> m)) {
            throw new CrucibleException(file + " " + unit + " " + number + ": expected a JSON object, got "
                    + (v == null ? "null" : DatasetRow.kind(v)));
        }
        return (Map<String, Object>) m;
    }

    /** A JSON array, {"data": [...]}, or several top-level objects (JSON Lines in a .json file). */
    private static List<DatasetRow> readJson(Path file) {
        List<Object> values = new ArrayList<>();
        try (JsonParser p = JSON.createParser(file.toFile())) {
            while (p.nextToken() != null) {
                if (p.currentToken() == JsonToken.START_ARRAY && values.isEmpty()) {
                    List<DatasetRow> rows = new ArrayList<>();
                    long number = 0;
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        number++;
                        rows.add(new DatasetRow(file, "row", number, requireObject(JSON.readValue(p, Object.class), file,
                                "row", number)));
                    }
                    if (p.nextToken() != null) {
                        throw new CrucibleException(file + ": unexpected content after the JSON array");
                    }
                    return rows;
                }
                values.add(JSON.readValue(p, Object.class));
            }
        } catch (JsonProcessingException e) {
            throw new CrucibleException(file + ": not valid JSON (line " + e.getLocation().getLineNr() + "): "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (values.size() == 1 && values.getFirst() instanceof Map<?, ?> m && m.get("data") instanceof List<?> data) {
            List<DatasetRow> rows = new ArrayList<>();
            for (int i = 0; i < data.size(); i++) {
                rows.add(new DatasetRow(file, "row", i + 1, requireObject(data.get(i), file, "row", i + 1)));
            }
            return rows;
        }
        List<DatasetRow> rows = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) {
            rows.add(new DatasetRow(file, "record", i + 1, requireObject(values.get(i), file, "record", i + 1)));
        }
        return rows;
    }
}
