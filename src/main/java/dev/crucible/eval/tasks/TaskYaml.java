package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import org.snakeyaml.engine.v2.api.ConstructNode;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads an lm-eval task or group file as lm-eval's {@code load_yaml} does: a mapping whose {@code include:} files
 * (one or a list, relative to the including file) are read first, in order, and overridden by the file's own keys;
 * an included file's {@code task_list} is not inherited. A {@code !function module.name} value becomes a
 * {@link FunctionRef}: Crucible runs no Python, so whoever uses the key reports it with the built-in to use.
 */
public final class TaskYaml {
    /** The value of a {@code !function} tag: a Python hook that Crucible cannot call. */
    public record FunctionRef(String name, Path file) {
        @Override
        public String toString() {
            return "!function " + name;
        }
    }

    private TaskYaml() {
    }

    public static Map<String, Object> load(Path file) {
        return load(file.toAbsolutePath().normalize(), new HashSet<>());
    }

    private static Map<String, Object> load(Path file, Set<Path> seen) {
        if (!seen.add(file)) {
            throw new CrucibleException(file + ": include cycle (the file includes itself through its includes)");
        }
        Map<String, Object> own = parse(file);
        Object includes = own.remove("include");
        if (includes == null) {
            return own;
        }
        Map<String, Object> merged = new LinkedHashMap<>();
        for (Object inc : includes instanceof List<?> l ? l : List.of(includes)) {
            if (!(inc instanceof String name)) {
                throw new CrucibleException(file + ": include must name a file (or a list of files), got " + inc);
            }
            Path included = file.getParent().resolve(name).normalize();
            if (!Files.isRegularFile(included)) {
                throw new CrucibleException(file + ": included file " + name + " not found (looked at " + included + ")");
            }
            Map<String, Object> cfg = load(included, seen);
            cfg.remove("task_list");
            merged.putAll(cfg);
        }
        merged.putAll(own);
        return merged;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
        ConstructNode function = node -> new FunctionRef(((ScalarNode) node).getValue(), file);
        // the core schema reads True/False/Null as PyYAML does (which lm-eval's task files rely on)
        LoadSettings settings = LoadSettings.builder().setLabel(file.toString()).setSchema(new CoreSchema())
                .setTagConstructors(Map.of(new Tag("!function"), function)).build();
        Object root;
        try {
            root = new Load(settings).loadFromString(text);
        } catch (YamlEngineException e) {
            throw new CrucibleException(file + ": not valid YAML: " + e.getMessage().replace('\n', ' '), e);
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new CrucibleException(file + ": expected a YAML mapping (task or group keys), got "
                    + (root == null ? "an empty file" : "a " + root.getClass().getSimpleName()));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            out.put(String.valueOf(e.getKey()), e.getValue());
        }
        return out;
    }

    /** Every {@code !function} in a config value (nested lists and maps included), with the key path it sits at. */
    public static List<String> functionsIn(String key, Object value) {
        List<String> out = new ArrayList<>();
        collect(key, value, out);
        return out;
    }

    private static void collect(String path, Object value, List<String> out) {
        switch (value) {
            case FunctionRef f -> out.add(path + ": " + f);
            case Map<?, ?> m -> m.forEach((k, v) -> collect(path + "." + k, v, out));
            case List<?> l -> {
                for (int i = 0; i < l.size(); i++) {
                    collect(path + "[" + i + "]", l.get(i), out);
                }
            }
            case null, default -> {
            }
        }
    }
}
