package dev.crucible.data.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetRow;
import dev.crucible.data.DatasetType;

import java.nio.file.Path;
import java.util.Map;

/**
 * A parsed row on its way through the steps: its fields, its current type (alpaca until a {@code convert} makes it
 * messages) and, cached, what the steps read of it. Its JSON for the output is the original text while no step has
 * changed it, so kept rows are written byte for byte as they were read.
 */
final class RecipeRow {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Fields the removed file adds; a row that already has one would end up with the key twice. */
    static final String REMOVED_BY = "removed_by";
    static final String REASON = "reason";

    private final RawRow raw;
    private DatasetRow row;
    private DatasetType type;
    private String field;
    private boolean converted;
    private RowText text;

    private RecipeRow(RawRow raw, DatasetRow row, DatasetType type, String field) {
        this.raw = raw;
        this.row = row;
        this.type = type;
        this.field = field;
    }

    /**
     * Parses and validates a raw row for its input's type; a malformed one is a {@link CrucibleException} naming
     * its file and line.
     */
    @SuppressWarnings("unchecked")
    static RecipeRow parse(RawRow raw, RecipeInput input) {
        Object value;
        try {
            value = JSON.readValue(raw.json(), Object.class);
        } catch (JsonProcessingException e) {
            throw new CrucibleException(raw.where() + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new CrucibleException(raw.where() + ": expected a JSON object");
        }
        if (map.containsKey(REMOVED_BY) || map.containsKey(REASON)) {
            throw new CrucibleException(raw.where() + ": has a field '" + (map.containsKey(REMOVED_BY) ? REMOVED_BY : REASON)
                    + "', which the removed file adds to say why a row was dropped; rename it");
        }
        DatasetRow row = new DatasetRow(Path.of(raw.fileName()), raw.unit(), raw.number(), (Map<String, Object>) map);
        RecipeRow r = new RecipeRow(raw, row, input.type(), input.field());
        r.text();
        return r;
    }

    /** A malformed row's error with the hint that {@code on_error: skip} would keep the run going. */
    static CrucibleException unreadable(CrucibleException e) {
        return new CrucibleException(e.getMessage() + " (on_error: skip would send it to the removed file)", e);
    }

    /** The start of a removed row's text for the report: its text, or its JSON when it does not parse. */
    static String snippet(RawRow raw, RecipeInput input) {
        String text;
        try {
            text = parse(raw, input).text().text();
        } catch (CrucibleException e) {
            text = raw.json();
        }
        return text.length() > 400 ? text.substring(0, 400) + "\u2026" : text;
    }

    RawRow raw() {
        return raw;
    }

    RowText text() {
        if (text == null) {
            text = RowText.of(type, field, row);
        }
        return text;
    }

    /** {@code convert: {to: messages}}. */
    void convertToMessages() {
        if ((type == DatasetType.MESSAGES || type == DatasetType.CHAT_TEMPLATE) && (field == null || field.equals("messages"))) {
            return;
        }
        Map<String, Object> fields = Conversion.toMessages(type, field, row);
        row = new DatasetRow(row.file(), row.unit(), row.number(), fields);
        type = DatasetType.MESSAGES;
        field = null;
        converted = true;
        text = null;
    }

    /** The row's JSON: as read unless a step changed it. */
    String json() {
        if (!converted) {
            return raw.json();
        }
        try {
            return JSON.writeValueAsString(row.fields());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The row's JSON with {@code removed_by} and {@code reason} added after its own fields. */
    String removedJson(String removedBy, String reason) {
        return withFields(json(), removedBy, reason);
    }

    /**
     * A removed row's line: its JSON with the two fields added. A line that failed to read because it is not a JSON
     * object is kept as text under {@code raw}.
     */
    static String removedLine(RawRow raw, String removedBy, String reason) {
        String json = raw.json();
        if (removedBy.equals("read") && !isObject(json)) {
            try {
                json = JSON.writeValueAsString(Map.of("raw", json));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        return withFields(json, removedBy, reason);
    }

    private static boolean isObject(String json) {
        try {
            return JSON.readTree(json).isObject();
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    static String withFields(String json, String removedBy, String reason) {
        String body = json.stripTrailing();
        int close = body.length() - 1;
        String head = body.substring(0, close).stripTrailing();
        boolean empty = head.endsWith("{");
        try {
            return head + (empty ? "" : ",") + "\"" + REMOVED_BY + "\":" + JSON.writeValueAsString(removedBy) + ",\""
                    + REASON + "\":" + JSON.writeValueAsString(reason) + "}";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
