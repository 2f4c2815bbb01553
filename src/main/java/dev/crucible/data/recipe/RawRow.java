package dev.crucible.data.recipe;

/**
 * One record as read, before parsing: its position in the run ({@code ordinal}: inputs in recipe order, files in name
 * order, rows in file order), where it came from ({@code fileName} as messages show it, the unit "line" or "row" and
 * its 1-based number), and its JSON text (a JSON Lines file's line exactly as written).
 */
record RawRow(int ordinal, int input, int file, String fileName, String unit, long number, String json)
        implements java.io.Serializable {
    /** "data/a.jsonl line 7", the prefix of every message about this row. */
    String where() {
        return fileName + " " + unit + " " + number;
    }
}
