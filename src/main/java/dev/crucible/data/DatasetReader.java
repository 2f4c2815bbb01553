package dev.crucible.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;

import java.io.BufferedReader;
import java.io.IOException;
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
            List<DatasetRow> rows = new ArrayList<>();
            for (Path f : files) {
                rows.addAll(readFile(f));
            }
            return rows;
        }
        if (!Files.isRegularFile(path)) {
            throw new CrucibleException(path + ": dataset file not found");
        }
        return readFile(path);
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
