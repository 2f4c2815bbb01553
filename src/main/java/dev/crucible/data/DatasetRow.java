package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One record of a dataset file as JSON-like values (String, Number, Boolean, List, Map, null), with where it came
 * from so that errors can name the file and the line (JSONL) or row (JSON array, Parquet, CSV; 1-based).
 */
public record DatasetRow(Path file, String unit, long number, Map<String, Object> fields) {

    /** "data.jsonl line 3", the prefix of every error about this row. */
    public String where() {
        return file + " " + unit + " " + number;
    }

    /** A field that must be a string (numbers and booleans are accepted as their text, as pandas would print). */
    public String requireString(String field, String type) {
        Object v = fields.get(field);
        if (v == null) {
            throw missing(field, type);
        }
        return asText(v, field, type);
    }

    /** An optional string field; null when absent or null. */
    public String optionalString(String field, String type) {
        Object v = fields.get(field);
        return v == null ? null : asText(v, field, type);
    }

    /** A field that must be a list. */
    public List<?> requireList(String field, String type) {
        Object v = fields.get(field);
        if (v == null) {
            throw missing(field, type);
        }
        if (!(v instanceof List<?> list)) {
            throw new CrucibleException(where() + ": field '" + field + "' of a '" + type + "' dataset must be a list, got "
                    + kind(v));
        }
        return list;
    }

    CrucibleException missing(String field, String type) {
        return new CrucibleException(where() + ": missing field '" + field + "' (a '" + type + "' dataset row needs it;"
                + " the row has " + (fields.isEmpty() ? "no fields" : "fields " + fields.keySet()) + ")");
    }

    private String asText(Object v, String field, String type) {
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        throw new CrucibleException(where() + ": field '" + field + "' of a '" + type + "' dataset must be a string, got "
                + kind(v));
    }

    static String kind(Object v) {
        return switch (v) {
            case List<?> l -> "a list";
            case Map<?, ?> m -> "an object";
            default -> "a " + v.getClass().getSimpleName();
        };
    }
}
