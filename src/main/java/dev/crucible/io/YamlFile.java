package dev.crucible.io;

import dev.crucible.CrucibleException;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A recipe file's values together with the line of every key and list item, so that an error can say
 * {@code recipe.yml line 12: steps[1] dedup: unknown option 'treshold'}. Paths are written as in the messages:
 * {@code inputs[0].path}, {@code steps[1].dedup.threshold}.
 */
public final class YamlFile {
    private final Path file;
    private final Object root;
    private final Map<String, Integer> lines = new HashMap<>();

    private YamlFile(Path file, Object root, Node node) {
        this.file = file;
        this.root = root;
        if (node != null) {
            index("", node);
        }
    }

    public static YamlFile read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read the recipe: " + e.getMessage(), e);
        }
        try {
            LoadSettings settings = LoadSettings.builder().build();
            Object root = new Load(settings).loadFromString(text);
            return new YamlFile(file, root, new Compose(settings).composeString(text).orElse(null));
        } catch (YamlEngineException e) {
            throw new CrucibleException(file + ": not valid YAML: " + YamlErrors.describe(e), e);
        }
    }

    public Object root() {
        return root;
    }

    public Path file() {
        return file;
    }

    /** An error located at {@code path} (the nearest enclosing key that has a line). */
    public CrucibleException error(String path, String message) {
        Integer line = null;
        for (String p = path; line == null && p != null; p = parent(p)) {
            line = lines.get(p);
        }
        return new CrucibleException(file + (line == null ? "" : " line " + line) + ": " + message);
    }

    /** Rejects keys of {@code map} outside {@code known}, naming the first unknown one and what is allowed. */
    public void checkKeys(String path, String what, Map<?, ?> map, Set<String> known) {
        for (Object k : map.keySet()) {
            String key = String.valueOf(k);
            if (!known.contains(key)) {
                throw error(join(path, key), what + ": unknown " + (path.isEmpty() ? "key" : "option") + " '" + key
                        + "' (expected " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
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
                for (NodeTuple t : m.getValue()) {
                    if (t.getKeyNode() instanceof ScalarNode k) {
                        String p = join(path, k.getValue());
                        k.getStartMark().ifPresent(mark -> lines.put(p, mark.getLine() + 1));
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
