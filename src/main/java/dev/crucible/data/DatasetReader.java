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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads dataset files into {@link DatasetRow}s: JSON Lines ({@code .jsonl}, {@code .ndjson}), JSON ({@code .json}:
 * an array of objects, an object with a {@code "data"} array, or JSON Lines saved as .json, as Hugging Face
 * {@code datasets} accepts), Parquet and CSV (through DuckDB). A directory is read file by file in name order,
 * skipping files of other types; rows keep the file order.
 */
public final class DatasetReader {
    static final ObjectMapper JSON = new ObjectMapper();

    private DatasetReader() {
    }

    public static List<DatasetRow> read(Path path) {
        List<DatasetRow> rows = new ArrayList<>();
        for (Path f : files(path)) {
            rows.addAll(readFile(f));
        }
        return rows;
    }

    /** The files a dataset path names: the file itself, or a directory's dataset files in name order. */
    public static List<Path> files(Path path) {
        if (Files.isDirectory(path)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(path)) {
                files = s.filter(f -> Files.isRegularFile(f) && kindOf(f) != null).sorted().toList();
            } catch (IOException e) {
                throw new CrucibleException(path + ": cannot list the dataset directory: " + e.getMessage(), e);
            }
            if (files.isEmpty()) {
                throw new CrucibleException(path + ": the dataset directory has no .jsonl, .json, .parquet or .csv file");
            }
            return files;
        }
        if (!Files.isRegularFile(path)) {
            throw new CrucibleException(path + ": dataset file not found");
        }
        if (kindOf(path) == null) {
            throw new CrucibleException(path + ": unknown dataset file type (expected .jsonl, .ndjson, .json, .parquet or .csv)");
        }
        return List.of(path);
    }

    /** Whether the file's extension is one this reader reads. */
    public static boolean isDatasetFile(Path file) {
        return kindOf(file) != null;
    }

    /** Receives the records of a file one at a time, as JSON text, with the unit ("line", "row") and its number. */
    public interface RecordSink {
        void accept(String unit, long number, String json);
    }

    /**
     * Streams the records of one file without holding them: a JSON Lines file's non-blank lines exactly as written
     * (not parsed: the caller parses them, so a malformed line can be reported or skipped with its number), a JSON
     * file's objects re-serialised compactly, a Parquet or CSV file's rows as DuckDB's {@code to_json} writes them.
     */
    public static void stream(Path file, RecordSink sink) {
        String kind = kindOf(file);
        if (kind == null) {
            throw new CrucibleException(file + ": unknown dataset file type (expected .jsonl, .ndjson, .json, .parquet or .csv)");
        }
        switch (kind) {
            case "jsonl" -> {
                try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                    String line;
                    long number = 0;
                    while ((line = in.readLine()) != null) {
                        number++;
                        if (!line.isBlank()) {
                            sink.accept("line", number, line);
                        }
                    }
                } catch (IOException e) {
                    throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
                }
            }
            case "json" -> {
                for (DatasetRow row : readJson(file)) {
                    try {
                        sink.accept(row.unit(), row.number(), JSON.writeValueAsString(row.fields()));
                    } catch (JsonProcessingException e) {
                        throw new CrucibleException(row.where() + ": " + e.getOriginalMessage(), e);
                    }
                }
            }
            default -> DuckDbRows.stream(file, kind, sink);
        }
    }

    /**
     * The number of records of one file, counted cheaply (for progress bars): a JSON Lines file's lines with a
     * character other than ASCII white space, Parquet's row count from its metadata, CSV rows through DuckDB, a JSON
     * file's records by reading it.
     */
    public static long count(Path file) {
        String kind = kindOf(file);
        if (kind == null) {
            throw new CrucibleException(file + ": unknown dataset file type (expected .jsonl, .ndjson, .json, .parquet or .csv)");
        }
        return switch (kind) {
            case "jsonl" -> countLines(file);
            case "json" -> readJson(file).size();
            default -> DuckDbRows.count(file, kind);
        };
    }

    private static long countLines(Path file) {
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

    private static String kindOf(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
            return "jsonl";
        }
        if (name.endsWith(".json")) {
            return "json";
        }
        if (name.endsWith(".parquet")) {
            return "parquet";
        }
        if (name.endsWith(".csv")) {
            return "csv";
        }
        return null;
    }

    private static List<DatasetRow> readFile(Path file) {
        String kind = kindOf(file);
        if (kind == null) {
            throw new CrucibleException(file + ": unknown dataset file type (expected .jsonl, .ndjson, .json, .parquet or .csv)");
        }
        return switch (kind) {
            case "jsonl" -> readJsonLines(file);
            case "json" -> readJson(file);
            default -> DuckDbRows.read(file, kind);
        };
    }

    private static List<DatasetRow> readJsonLines(Path file) {
        List<DatasetRow> rows = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                rows.add(new DatasetRow(file, "line", number, parseObject(line, file, "line", number)));
            }
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
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
