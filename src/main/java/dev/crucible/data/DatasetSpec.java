package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One entry of the config's {@code datasets} list: {@code path} (a file or a directory of files), {@code type}
 * and, for the formats that read one field, {@code field} (completion/text: default {@code text}; messages:
 * {@code messages}; sharegpt: {@code conversations}). {@code field_messages} is accepted as Axolotl's name of
 * the messages field.
 */
public record DatasetSpec(Path path, DatasetType type, String field) {
    private static final Set<String> KEYS = Set.of("path", "type", "field", "field_messages");

    public DatasetSpec {
        if (field != null && type == DatasetType.ALPACA) {
            throw new CrucibleException("datasets: 'field' does not apply to type alpaca (it reads instruction, input,"
                    + " output)");
        }
    }

    /** Parses entry {@code index} of {@code datasets}; relative paths resolve against {@code baseDir}. */
    public static DatasetSpec fromConfig(Map<String, ?> entry, int index, Path baseDir) {
        String where = "datasets[" + index + "]";
        Set<String> unknown = new TreeSet<>(entry.keySet());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new CrucibleException(where + ": unknown keys " + unknown + " (expected " + new TreeSet<>(KEYS) + ")");
        }
        if (!(entry.get("path") instanceof String path) || path.isBlank()) {
            throw new CrucibleException(where + ": 'path' (a dataset file or directory) is required");
        }
        if (!(entry.get("type") instanceof String type)) {
            throw new CrucibleException(where + ": 'type' is required (alpaca, sharegpt, messages, completion or text)");
        }
        Object field = entry.get("field") != null ? entry.get("field") : entry.get("field_messages");
        if (field != null && !(field instanceof String)) {
            throw new CrucibleException(where + ": 'field' must be a string");
        }
        DatasetType t;
        try {
            t = DatasetType.parse(type);
        } catch (CrucibleException e) {
            throw new CrucibleException(where + ": " + e.getMessage(), e);
        }
        Path p = Path.of(path);
        return new DatasetSpec(baseDir == null || p.isAbsolute() ? p : baseDir.resolve(p), t, (String) field);
    }
}
