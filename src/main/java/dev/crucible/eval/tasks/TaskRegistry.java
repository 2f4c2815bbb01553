package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Every task, group and tag Crucible knows (lm-eval's {@code TaskIndex} and {@code TaskFactory}): the built-in task
 * files bundled with Crucible, then each {@code --include-path} directory (a later definition of a name replaces an
 * earlier one), every {@code *.yaml} below them read in path order. {@link #load} turns names, glob patterns and
 * YAML paths into tasks and groups with lm-eval's override rules.
 */
public final class TaskRegistry {
    enum Kind { TASK, GROUP, TAG }

    record Entry(String name, Kind kind, Path file, Map<String, Object> cfg, TreeSet<String> members) {
    }

    /** What {@link #load} returns: leaf tasks by name (in load order) and every group by name. */
    public record Loaded(Map<String, TaskSpec> tasks, Map<String, TaskGroup> groups, List<Object> topLevel) {
    }

    private final Map<String, Entry> index = new LinkedHashMap<>();
    private final List<String> unreadable = new ArrayList<>();
    private final Map<String, Object> metadata;

    /** @param metadata added to every task's and group's {@code metadata} (lm-eval adds the model arguments) */
    public TaskRegistry(List<Path> includePaths, Map<String, Object> metadata) {
        this.metadata = metadata;
        List<Path> roots = new ArrayList<>();
        roots.add(builtinRoot());
        for (Path p : includePaths) {
            if (!Files.isDirectory(p)) {
                throw new CrucibleException(p + ": --include-path must be a directory of task files");
            }
            roots.add(p);
        }
        for (Path root : roots) {
            Map<String, Entry> own = new LinkedHashMap<>();
            for (Path file : yamlFiles(root)) {
                try {
                    register(TaskYaml.load(file), file, own);
                } catch (CrucibleException e) {
                    unreadable.add(e.getMessage());
                }
            }
            index.putAll(own);
        }
    }

    /** The directory of the task files that ship with Crucible (inside the jar, or on the class path in tests). */
    static Path builtinRoot() {
        URL url = TaskRegistry.class.getResource("leaderboard");
        if (url == null) {
            throw new IllegalStateException("the built-in task files are missing from the class path");
        }
        try {
            URI uri = url.toURI();
            if (uri.getScheme().equals("jar")) {
                try {
                    FileSystems.newFileSystem(uri, Map.of());
                } catch (FileSystemAlreadyExistsException ignored) {
                    // opened by an earlier registry
                }
            }
            return Path.of(uri).getParent();
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("cannot open the built-in task files: " + e.getMessage(), e);
        }
    }

    private static List<Path> yamlFiles(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> p.getFileName() != null && p.getFileName().toString().endsWith(".yaml")
                            && Files.isRegularFile(p))
                    .sorted((a, b) -> a.toString().replace('\\', '/').compareTo(b.toString().replace('\\', '/')))
                    .toList();
        } catch (IOException e) {
            throw new CrucibleException(root + ": cannot list task files: " + e.getMessage(), e);
        }
    }

    private static void register(Map<String, Object> cfg, Path file, Map<String, Entry> into) {
        if (cfg.get("group") instanceof String g) {
            into.putIfAbsent(g, new Entry(g, Kind.GROUP, file, cfg, new TreeSet<>()));
        } else if (cfg.get("task") instanceof String t) {
            if (into.containsKey(t) && into.get(t).kind() != Kind.TAG) {
                return; // lm-eval keeps the first definition within one directory
            }
            into.put(t, new Entry(t, Kind.TASK, file, cfg, new TreeSet<>()));
            Object tags = cfg.get("tag");
            for (Object tag : tags instanceof List<?> l ? l : tags == null ? List.of() : List.of(tags)) {
                into.computeIfAbsent(String.valueOf(tag), n -> new Entry(n, Kind.TAG, null, null, new TreeSet<>()))
                        .members().add(t);
            }
        }
    }

    /** Names of every registered task, group and tag, sorted. */
    public List<String> names() {
        List<String> out = new ArrayList<>(index.keySet());
        Collections.sort(out);
        return out;
    }

    /**
     * Loads each spec (a registered name, a glob over registered names, or a path to a task or group YAML file), as
     * {@code lm_eval --tasks a,b,c} does. A task that two top-level specs both contain is an error.
     */
    public Loaded load(List<String> specs) {
        List<Object> built = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        List<String> seenSpecs = new ArrayList<>();
        for (String spec : specs) {
            if (spec.endsWith(".yaml")) {
                Path file = Path.of(spec).toAbsolutePath().normalize();
                if (!Files.isRegularFile(file)) {
                    missing.add(spec + " (no such file)");
                    continue;
                }
                Map<String, Object> cfg = TaskYaml.load(file);
                Entry e = cfg.get("group") instanceof String g ? new Entry(g, Kind.GROUP, file, cfg, new TreeSet<>())
                        : new Entry(String.valueOf(cfg.get("task")), Kind.TASK, file, cfg, new TreeSet<>());
                if (!(cfg.get("group") instanceof String) && !(cfg.get("task") instanceof String)) {
                    throw new CrucibleException(file + ": a task file needs 'task' (or 'group' for a group file)");
                }
                addBuilt(built, build(e, null));
                continue;
            }
            List<String> matches = match(spec);
            if (matches.isEmpty()) {
                missing.add(spec);
            }
            for (String name : matches) {
                if (!seenSpecs.contains(name)) {
                    seenSpecs.add(name);
                    addBuilt(built, build(index.get(name), null));
                }
            }
        }
        if (!missing.isEmpty()) {
            StringBuilder msg = new StringBuilder("tasks not found: " + String.join(", ", missing)
                    + " (not a registered task, group or tag, nor a .yaml file; registered: "
                    + String.join(", ", names().stream().limit(40).toList()) + (index.size() > 40 ? ", ..." : "") + ")");
            if (!unreadable.isEmpty()) {
                msg.append("; task files that could not be read: ").append(String.join("; ", unreadable));
            }
            throw new CrucibleException(msg.toString());
        }
        Map<String, TaskSpec> tasks = new LinkedHashMap<>();
        Map<String, TaskGroup> groups = new LinkedHashMap<>();
        Map<String, String> owner = new LinkedHashMap<>();
        for (Object item : built) {
            String source = item instanceof TaskGroup g ? g.name() : ((TaskSpec) item).name();
            List<TaskSpec> leaves = item instanceof TaskGroup g ? g.tasks() : List.of((TaskSpec) item);
            for (TaskSpec t : leaves) {
                String prev = owner.putIfAbsent(t.name(), source);
                if (prev != null && !prev.equals(source)) {
                    throw new CrucibleException("duplicate task '" + t.name() + "': found in both '" + prev + "' and '"
                            + source + "'");
                }
                tasks.put(t.name(), t);
            }
            if (item instanceof TaskGroup g) {
                groups.put(g.name(), g);
                for (TaskGroup sub : g.groups()) {
                    groups.put(sub.name(), sub);
                }
            }
        }
        return new Loaded(tasks, groups, built);
    }

    private static void addBuilt(List<Object> built, Object item) {
        if (item instanceof List<?> l) {
            built.addAll(l);
        } else {
            built.add(item);
        }
    }

    private List<String> match(String pattern) {
        if (index.containsKey(pattern)) {
            return List.of(pattern);
        }
        if (!pattern.contains("*") && !pattern.contains("?") && !pattern.contains("[")) {
            return List.of();
        }
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
        return names().stream().filter(n -> !n.contains("/") && m.matches(Path.of(n))).toList();
    }

    /** A task, a group (children built) or, for a tag, the list of its tasks. */
    private Object build(Entry entry, Map<String, Object> overrides) {
        return switch (entry.kind()) {
            case TAG -> {
                List<Object> out = new ArrayList<>();
                for (String name : entry.members()) {
                    out.add(buildTask(index.get(name), overrides));
                }
                yield out;
            }
            case GROUP -> buildGroup(entry.name(), entry.cfg(), entry.file(), overrides);
            case TASK -> buildTask(entry, overrides);
        };
    }

    private TaskSpec buildTask(Entry entry, Map<String, Object> overrides) {
        Map<String, Object> cfg = new LinkedHashMap<>(entry.cfg());
        if (overrides != null) {
            cfg.putAll(overrides);
        }
        return task(cfg, entry.file());
    }

    private TaskSpec task(Map<String, Object> cfg, Path file) {
        Map<String, Object> meta = new LinkedHashMap<>();
        if (cfg.get("metadata") instanceof Map<?, ?> m) {
            m.forEach((k, v) -> meta.put(String.valueOf(k), v));
        } else if (cfg.get("metadata") != null) {
            meta.put("_metadata", cfg.get("metadata"));
        }
        meta.putAll(metadata);
        meta.put("config_source", file == null ? "inline" : file.toString());
        cfg.put("metadata", meta);
        cfg.remove("tag");
        cfg.remove("group");
        cfg.remove("task_list");
        return new TaskSpec(TaskConfig.of(cfg, file), file);
    }

    private static final List<String> GROUP_KEYS = List.of("group", "group_alias", "task", "aggregate_metric_list",
            "metadata");

    @SuppressWarnings("unchecked")
    private TaskGroup buildGroup(String name, Map<String, Object> raw, Path file, Map<String, Object> overrides) {
        String where = "group " + name + " (" + TaskConfig.describe(file) + ")";
        Map<String, Object> groupCfg = new LinkedHashMap<>();
        Map<String, Object> taskOverrides = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : raw.entrySet()) {
            (GROUP_KEYS.contains(e.getKey()) ? groupCfg : taskOverrides).put(e.getKey(), e.getValue());
        }
        taskOverrides.remove("tag");
        Map<String, Object> groupMeta = new LinkedHashMap<>();
        if (groupCfg.get("metadata") instanceof Map<?, ?> m) {
            m.forEach((k, v) -> groupMeta.put(String.valueOf(k), v));
        }
        groupMeta.putAll(metadata);
        groupCfg.put("metadata", groupMeta);
        TaskGroup group = TaskGroup.of(name, groupCfg, where);
        Map<String, Object> merged = new LinkedHashMap<>(taskOverrides);
        if (overrides != null) {
            merged.putAll(overrides);
        }
        Object members = raw.get("task");
        if (members instanceof String s) {
            members = List.of(s);
        }
        if (!(members instanceof List<?> list)) {
            throw new CrucibleException(where + ": a group needs 'task': the list of its tasks and groups");
        }
        for (Object item : list) {
            if (item instanceof Map<?, ?> m && m.get("group") instanceof String sub) {
                Map<String, Object> inline = new LinkedHashMap<>();
                m.forEach((k, v) -> inline.put(String.valueOf(k), v));
                if (index.containsKey(sub) && index.get(sub).kind() == Kind.GROUP) {
                    inline.remove("group");
                    Map<String, Object> o = new LinkedHashMap<>(merged);
                    o.putAll(inline);
                    TaskGroup child = (TaskGroup) build(index.get(sub), o);
                    group.add(child.name(), child);
                } else {
                    String full = name + "::" + sub;
                    TaskGroup child = buildGroup(full, inline, file, merged);
                    group.add(full, child);
                }
                continue;
            }
            String base;
            Map<String, Object> itemOverrides;
            if (item instanceof String s) {
                base = s;
                itemOverrides = merged;
            } else if (item instanceof Map<?, ?> m && m.get("task") instanceof String t) {
                base = t;
                itemOverrides = new LinkedHashMap<>(merged);
                m.forEach((k, v) -> itemOverrides.put(String.valueOf(k), v));
            } else {
                throw new CrucibleException(where + ": a 'task' entry must be a name or a mapping with 'task' or "
                        + "'group', got " + item);
            }
            Entry child = index.get(base);
            if (child == null) {
                String full = name + "::" + base;
                Map<String, Object> cfg = new LinkedHashMap<>(itemOverrides);
                cfg.put("task", full);
                TaskSpec t = task(cfg, file);
                group.add(full, t);
                continue;
            }
            switch (child.kind()) {
                case GROUP -> {
                    TaskGroup g = (TaskGroup) build(child, itemOverrides);
                    group.add(g.name(), g);
                }
                case TAG -> {
                    for (String member : child.members()) {
                        Map<String, Object> o = new LinkedHashMap<>();
                        o.put("task", member);
                        o.putAll(itemOverrides);
                        o.put("task", member);
                        TaskSpec t = buildTask(index.get(member), o);
                        group.add(t.name(), t);
                    }
                }
                case TASK -> {
                    Map<String, Object> o = new LinkedHashMap<>();
                    o.put("task", base);
                    o.putAll(itemOverrides);
                    TaskSpec t = buildTask(child, o);
                    group.add(t.name(), t);
                }
            }
        }
        return group;
    }
}
