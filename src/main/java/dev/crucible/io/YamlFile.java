package dev.crucible.io;

import dev.crucible.CrucibleException;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.constructor.StandardConstructor;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one reader of Crucible's YAML configs (train/sft, merge, mergekit-moe, data recipes): SnakeYAML Engine's YAML 1.2
 * values together with the line of every key and list item, so that an error can say
 * {@code recipe.yml line 12: steps[1] dedup: unknown option 'treshold'}. Key paths are written as in the messages:
 * {@code inputs[0].path}, {@code steps[1].dedup.threshold}. A repeated key is an error, except where a config format's
 * own tool reads it otherwise ({@link Duplicates#LAST_WINS}: mergekit reads configs with PyYAML, which keeps the last
 * value); then {@link #duplicates()} lists each for a warning. Unknown keys get a "did you mean" from
 * {@link KeySuggestion}.
 */
public final class YamlFile {
    /** What a repeated key in one mapping means. */
    public enum Duplicates {
        /** An error naming the key and its line. */
        REJECT,
        /** The last value counts, as PyYAML reads it; {@link #duplicates()} names each repeat. */
        LAST_WINS
    }

    private final Path file;
    private final String text;
    private final Object root;
    private final Map<String, Integer> lines = new HashMap<>();
    private final List<String> duplicates = new ArrayList<>();

    private YamlFile(Path file, String text, LoadSettings settings) {
        this.file = file;
        this.text = text;
        Optional<Node> node = new Compose(settings).composeString(text);
        // indexed before construction, which drops the earlier of repeated keys from the nodes
        node.ifPresent(n -> index("", n));
        this.root = new StandardConstructor(settings).constructSingleDocument(node);
    }

    /** Reads {@code file} ({@code what} names it in an I/O error: "the recipe", "merge config"); repeats are errors. */
    public static YamlFile read(Path file, String what) {
        return read(file, what, Duplicates.REJECT);
    }

    public static YamlFile read(Path file, String what, Duplicates duplicates) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read " + what + ": " + e.getMessage(), e);
        }
        return parse(text, file, duplicates);
    }

    /** Parses {@code text}; {@code file} (may be null) names it in errors. */
    public static YamlFile parse(String text, Path file, Duplicates duplicates) {
        LoadSettings settings = LoadSettings.builder().setAllowDuplicateKeys(duplicates == Duplicates.LAST_WINS).build();
        try {
            // composed once: the nodes give the lines, the constructor the values (and refuses repeats if asked)
            return new YamlFile(file, text, settings);
        } catch (YamlEngineException e) {
            throw new CrucibleException((file == null ? "" : file + ": ") + "not valid YAML: " + YamlErrors.describe(e), e);
        }
    }

    public Object root() {
        return root;
    }

    /** The text as read (a merge config's is copied byte for byte to the output). */
    public String text() {
        return text;
    }

    /** The file, or null for text parsed without one. */
    public Path file() {
        return file;
    }

    /** The 1-based line of {@code path} or of its nearest enclosing key that has one; null if none has. */
    public Integer line(String path) {
        Integer line = null;
        for (String p = path; line == null && p != null; p = parent(p)) {
            line = lines.get(p);
        }
        return line;
    }

    /** An error located at {@code path}: {@code <file> line <n>: <message>} (each part only when known). */
    public CrucibleException error(String path, String message) {
        return new CrucibleException(located(path, message));
    }

    /** {@code message} with the file and the line of {@code path} in front, as {@link #error} writes them. */
    public String located(String path, String message) {
        Integer line = line(path);
        String where = (file == null ? "" : file.toString()) + (line == null ? "" : (file == null ? "" : " ") + "line " + line);
        return where.isEmpty() ? message : where + ": " + message;
    }

    /**
     * An error about one key, raised where the file is not at hand (a mapping checked on its own): whoever read the
     * file {@linkplain #locate(CrucibleException) locates} it at that key's line.
     */
    public static final class KeyError extends CrucibleException {
        private final String path;

        public KeyError(String path, String message) {
            super(message);
            this.path = path;
        }
    }

    /** {@code e} with its message located: at its key for a {@link KeyError}, else as {@link #locate(String)} does. */
    public CrucibleException locate(CrucibleException e) {
        String message = e instanceof KeyError k ? located(k.path, e.getMessage()) : locate(e.getMessage());
        return new CrucibleException(message, e);
    }

    /**
     * A message located at the key path it begins with ({@code slices[0].sources[1].layer_range: ...}, the form merge
     * config errors and warnings take); a message that begins with no key path gets the file only.
     */
    public String locate(String message) {
        int colon = message.indexOf(": ");
        String path = colon > 0 ? message.substring(0, colon) : "";
        return located(path.contains(" ") ? "" : path, message);
    }

    /**
     * Rejects keys of {@code map} outside {@code known}, naming the first unknown one, a close known key and what is
     * allowed: {@code what: unknown key 'treshold'; did you mean threshold? (expected ...)}.
     */
    public void checkKeys(String path, String what, Map<?, ?> map, Set<String> known) {
        for (Object k : map.keySet()) {
            String key = String.valueOf(k);
            if (!known.contains(key)) {
                throw error(join(path, key), what + ": unknown " + (path.isEmpty() ? "key" : "option") + " '" + key
                        + "'" + KeySuggestion.didYouMean(Set.of(key), known) + " (expected "
                        + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
    }

    /** Each repeated key ({@link Duplicates#LAST_WINS} only): "line 7: 'dtype' repeats line 2; the last value counts". */
    public List<String> duplicates() {
        return List.copyOf(duplicates);
    }

    public static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String parent(String path) {
        int dot = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
        return dot <= 0 ? (path.isEmpty() ? null : "") : path.substring(0, dot);
    }

    private void index(String path, Node node) {
        switch (node) {
            case MappingNode m -> {
                Map<String, Integer> seen = new HashMap<>();
                for (NodeTuple t : m.getValue()) {
                    if (t.getKeyNode() instanceof ScalarNode k) {
                        String p = join(path, k.getValue());
                        int line = k.getStartMark().map(mark -> mark.getLine() + 1).orElse(0);
                        Integer first = seen.putIfAbsent(k.getValue(), line);
                        if (first != null) {
                            duplicates.add("line " + line + ": '" + p + "' repeats line " + first
                                    + "; the last value counts");
                        }
                        lines.put(p, line);
                        index(p, t.getValueNode());
                    }
                }
            }
            case SequenceNode s -> {
                List<Node> items = s.getValue();
                for (int i = 0; i < items.size(); i++) {
                    String p = path + "[" + i + "]";
                    items.get(i).getStartMark().ifPresent(mark -> lines.put(p, mark.getLine() + 1));
                    index(p, items.get(i));
                }
            }
            default -> {
            }
        }
    }
}
