package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.KeySuggestion;
import dev.crucible.template.ChatTemplate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One entry of the config's {@code datasets} list, with Axolotl's keys: where the rows come from ({@code path},
 * {@code split}, {@code data_files}, {@code name}, {@code ds_type}: {@link DatasetSource}), the {@code type}, for
 * the formats that read one field {@code field} (completion/text: default {@code text}), and for the chat types
 * ({@code chat_template}, {@code messages}, {@code sharegpt}) the chat options ({@link ChatOptions}: messages field,
 * property and role mappings, roles_to_train, train_on_eos, a per-dataset chat_template, ...).
 *
 * @param chat the chat options of a chat type, null for the other types
 */
public record DatasetSpec(DatasetSource source, DatasetType type, String field, ChatOptions chat) {
    private static final Set<String> SOURCE_KEYS = Set.of("path", "type", "field", "split", "data_files", "name",
            "ds_type", "trust_remote_code", "revision");

    public DatasetSpec {
        if (field != null && type == DatasetType.ALPACA) {
            throw new CrucibleException("datasets: 'field' does not apply to type alpaca (it reads instruction, input,"
                    + " output)");
        }
        if (field != null && type.isPreference()) {
            throw new CrucibleException("datasets: 'field' does not apply to type " + type.configName() + " (it reads "
                    + (type == DatasetType.KTO ? "prompt, completion, label)" : "prompt, chosen, rejected)"));
        }
        if (type.usesChatTemplate() && chat == null) {
            chat = ChatOptions.defaults(type, field);
        }
    }

    /** A whole file or directory ({@code train} split) of a type with its default options. */
    public DatasetSpec(Path path, DatasetType type, String field) {
        this(DatasetSource.of(path), type, type.usesChatTemplate() ? null : field,
                type.usesChatTemplate() ? ChatOptions.defaults(type, field) : null);
    }

    public Path path() {
        return source.path();
    }

    /** The samples of every selected row; chat rows get {@code template} unless the dataset sets its own. */
    public List<Sample> samples(ChatTemplate template) {
        List<Sample> out = new ArrayList<>();
        for (DatasetRow row : source.read()) {
            out.add(chat == null ? type.toSample(row, field) : ChatRows.sample(row, type.configName(), chat, template));
        }
        return out;
    }

    /**
     * Parses entry {@code index} of {@code datasets}; relative paths (data, .jinja templates) resolve against
     * {@code baseDir}. {@code trust_remote_code} and {@code revision} concern Hub downloads and are accepted as no-ops.
     */
    public static DatasetSpec fromConfig(Map<String, ?> entry, int index, Path baseDir) {
        String where = "datasets[" + index + "]";
        if (!(entry.get("type") instanceof String type)) {
            throw new CrucibleException(where + ": 'type' is required (chat_template, messages, sharegpt, alpaca,"
                    + " completion or text; preference or kto with rl:)");
        }
        DatasetType t;
        try {
            t = DatasetType.parse(type);
        } catch (CrucibleException e) {
            throw new CrucibleException(where + ": " + e.getMessage(), e);
        }
        Set<String> allowed = new TreeSet<>(SOURCE_KEYS);
        if (t.usesChatTemplate()) {
            allowed.addAll(ChatOptions.KEYS);
        }
        Set<String> unknown = new TreeSet<>(entry.keySet());
        unknown.removeAll(allowed);
        if (!unknown.isEmpty()) {
            Set<String> chatOnly = new TreeSet<>(unknown);
            chatOnly.retainAll(ChatOptions.KEYS);
            throw new CrucibleException(where + ": " + (chatOnly.equals(unknown) ? "keys " + unknown + " apply to the chat"
                    + " types only (chat_template, messages, sharegpt), not to " + type
                    : "unknown keys " + unknown + KeySuggestion.didYouMean(unknown, allowed) + " (expected " + allowed + ")"));
        }
        if (!(entry.get("path") instanceof String path) || path.isBlank()) {
            throw new CrucibleException(where + ": 'path' (a dataset file or directory) is required");
        }
        String field = ChatOptions.string(entry, "field", where);
        if (field != null && t.usesChatTemplate()) {
            throw new CrucibleException(where + ": 'field' is for completion and text datasets; a chat dataset names its"
                    + " messages with field_messages");
        }
        Path p = Path.of(path);
        List<String> dataFiles = dataFiles(entry.get("data_files"), where);
        String name = ChatOptions.string(entry, "name", where);
        String split = ChatOptions.string(entry, "split", where);
        String dsType = ChatOptions.string(entry, "ds_type", where);
        ChatOptions chat = t.usesChatTemplate()
                ? ChatOptions.fromConfig(entry, t, where, chatTemplate(entry, where, baseDir)) : null;
        try {
            DatasetSource source = new DatasetSource(baseDir == null || p.isAbsolute() ? p : baseDir.resolve(p),
                    dataFiles, name, split, dsType);
            return new DatasetSpec(source, t, field, chat);
        } catch (CrucibleException e) {
            throw new CrucibleException(where + ": " + e.getMessage(), e);
        }
    }

    private static List<String> dataFiles(Object v, String where) {
        if (v == null) {
            return null;
        }
        if (v instanceof String s) {
            return List.of(s);
        }
        if (v instanceof List<?> list && list.stream().allMatch(x -> x instanceof String) && !list.isEmpty()) {
            return list.stream().map(String.class::cast).toList();
        }
        throw new CrucibleException(where + ": data_files must be a file name or a list of them, got " + v);
    }

    /**
     * The dataset's own template setting, as Axolotl reads {@code chat_template} and {@code chat_template_jinja}
     * (Jinja source or a file); a relative .jinja path resolves against {@code baseDir}.
     */
    private static String chatTemplate(Map<String, ?> entry, String where, Path baseDir) {
        String choice = ChatOptions.string(entry, "chat_template", where);
        String jinja = ChatOptions.string(entry, "chat_template_jinja", where);
        if (jinja != null) {
            if (choice != null && !choice.equals("jinja")) {
                throw new CrucibleException(where + ": chat_template_jinja goes with chat_template: jinja (or no"
                        + " chat_template), not '" + choice + "'");
            }
            if (jinja.contains("{{") || jinja.contains("{%")) {
                return jinja;
            }
            Path file = baseDir == null || Path.of(jinja).isAbsolute() ? Path.of(jinja) : baseDir.resolve(jinja);
            try {
                return Files.readString(file);
            } catch (IOException e) {
                throw new CrucibleException(where + ": chat_template_jinja: cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        if ("jinja".equals(choice)) {
            throw new CrucibleException(where + ": chat_template: jinja needs chat_template_jinja (the template or its"
                    + " file)");
        }
        if (choice != null && choice.endsWith(".jinja") && baseDir != null && !Path.of(choice).isAbsolute()) {
            return baseDir.resolve(choice).toString();
        }
        return choice;
    }
}
