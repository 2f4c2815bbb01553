package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The options of a chat dataset, named and defaulted as Axolotl's {@code type: chat_template} names them:
 * {@code field_messages}, {@code message_property_mappings} (or the legacy {@code message_field_role} /
 * {@code message_field_content}), {@code roles}, {@code roles_to_train}, {@code train_on_eos},
 * {@code field_thinking} / {@code template_thinking_key}, {@code field_system}, {@code field_tools},
 * {@code drop_system_message} and a per-dataset {@code chat_template} (or {@code chat_template_jinja}).
 * How a row becomes a conversation is {@link ChatRows}.
 *
 * @param messagesField     the field holding the list of messages
 * @param properties        template message key -> dataset message key ({@code role: from}, {@code content: value})
 * @param roles             dataset role -> template role; roles not listed pass through unchanged
 * @param loss              which turns and closings carry loss ({@code roles_to_train} already mapped)
 * @param systemField       a row field prepended as the system message when the conversation has none
 * @param toolsField        a row field holding the tools the template gets (a list, or its JSON text)
 * @param dropSystemMessage drop a leading system message
 * @param chatTemplate      the dataset's own chat_template setting (name, .jinja path or source), or null
 * @param strictRoles       reject roles missing from {@code roles} (Crucible's sharegpt, which names its roles)
 */
public record ChatOptions(String messagesField, Map<String, String> properties, Map<String, String> roles,
                          ChatLoss loss, String systemField, String toolsField, boolean dropSystemMessage,
                          String chatTemplate, boolean strictRoles) {

    /** Axolotl's default role mapping, plus {@code model} (Gemma's name) for assistant. */
    static final Map<String, String> DEFAULT_ROLES = orderedMap("human", "user", "user", "user", "assistant",
            "assistant", "gpt", "assistant", "model", "assistant", "system", "system", "tool", "tool");

    /** The dataset keys these options read (besides {@code path}, {@code type} and the source keys). */
    static final Set<String> KEYS = Set.of("field_messages", "message_property_mappings", "message_field_role",
            "message_field_content", "roles", "roles_to_train", "train_on_eos", "field_system", "field_tools",
            "drop_system_message", "chat_template", "chat_template_jinja", "field_thinking", "template_thinking_key");

    public ChatOptions {
        properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties)); // ordered: role, content, ...
        roles = Collections.unmodifiableMap(new LinkedHashMap<>(roles));
    }

    /** The defaults of a chat type: {@code messages}/{@code chat_template} read {@code messages} of role/content,
     * {@code sharegpt} reads {@code conversations} of from/value. {@code field} overrides the messages field. */
    public static ChatOptions defaults(DatasetType type, String field) {
        boolean sharegpt = type == DatasetType.SHAREGPT;
        Map<String, String> properties = sharegpt ? orderedMap("role", "from", "content", "value")
                : orderedMap("role", "role", "content", "content");
        return new ChatOptions(field != null ? field : type.defaultField(), properties, DEFAULT_ROLES, ChatLoss.DEFAULT,
                "system", "tools", false, null, sharegpt);
    }

    /**
     * Reads the chat keys of a {@code datasets} entry as Axolotl does; {@code chatTemplate} is the per-dataset
     * setting already resolved (a {@code .jinja} path made absolute), or null.
     */
    static ChatOptions fromConfig(Map<String, ?> entry, DatasetType type, String where, String chatTemplate) {
        ChatOptions d = defaults(type, string(entry, "field_messages", where));
        Map<String, String> properties = new LinkedHashMap<>(d.properties);
        Map<String, String> mapped = stringMap(entry, "message_property_mappings", where);
        if (mapped != null) {
            properties.putAll(mapped);
        }
        legacyProperty(entry, "message_field_role", "role", mapped, properties, where);
        legacyProperty(entry, "message_field_content", "content", mapped, properties, where);
        String thinkingField = string(entry, "field_thinking", where);
        String thinkingKey = string(entry, "template_thinking_key", where);
        if (thinkingField != null || thinkingKey != null) { // the reasoning trace: dataset key -> the template's key
            properties.putIfAbsent(thinkingKey != null ? thinkingKey : "reasoning_content",
                    thinkingField != null ? thinkingField : "reasoning_content");
        }
        Map<String, String> roles = d.roles;
        boolean strict = d.strictRoles;
        if (entry.get("roles") != null) {
            roles = roleMap(entry.get("roles"), where);
            strict = false;
        }
        Set<String> rolesToTrain = new LinkedHashSet<>();
        Object train = entry.get("roles_to_train");
        if (train == null) {
            rolesToTrain.addAll(ChatLoss.DEFAULT.rolesToTrain());
        } else if (train instanceof List<?> list) {
            for (Object r : list) {
                if (!(r instanceof String s)) {
                    throw new CrucibleException(where + ": roles_to_train must be a list of role names, got " + train);
                }
                rolesToTrain.add(roles.getOrDefault(s, s)); // Axolotl maps them too: gpt -> assistant
            }
        } else {
            throw new CrucibleException(where + ": roles_to_train must be a list of role names, got " + train);
        }
        String eos = string(entry, "train_on_eos", where);
        ChatLoss loss = new ChatLoss(rolesToTrain, eos == null ? ChatLoss.TrainOnEos.TURN : ChatLoss.TrainOnEos.parse(eos, where));
        Object drop = entry.get("drop_system_message");
        if (drop != null && !(drop instanceof Boolean)) {
            throw new CrucibleException(where + ": drop_system_message must be true or false, got " + drop);
        }
        String system = string(entry, "field_system", where);
        String tools = string(entry, "field_tools", where);
        return new ChatOptions(d.messagesField, properties, roles, loss, system != null ? system : d.systemField,
                tools != null ? tools : d.toolsField, Boolean.TRUE.equals(drop), chatTemplate, strict);
    }

    /** Axolotl's legacy keys: they set one mapping and must not contradict message_property_mappings. */
    private static void legacyProperty(Map<String, ?> entry, String key, String property, Map<String, String> mapped,
                                       Map<String, String> properties, String where) {
        String value = string(entry, key, where);
        if (value == null) {
            return;
        }
        if (mapped != null && mapped.containsKey(property) && !mapped.get(property).equals(value)) {
            throw new CrucibleException(where + ": " + key + " '" + value + "' conflicts with message_property_mappings."
                    + property + " '" + mapped.get(property) + "'");
        }
        properties.put(property, value);
    }

    /** Axolotl's {@code roles}: target role -> list of dataset roles; it replaces the default mapping. */
    private static Map<String, String> roleMap(Object value, String where) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new CrucibleException(where + ": roles must map a role to the list of dataset roles that become it"
                    + " (e.g. assistant: [gpt, model]), got " + value);
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String target) || !(e.getValue() instanceof List<?> sources)) {
                throw new CrucibleException(where + ": roles." + e.getKey() + " must be a list of dataset roles, got "
                        + e.getValue());
            }
            for (Object s : sources) {
                out.put(String.valueOf(s), target);
            }
        }
        return out;
    }

    static String string(Map<String, ?> entry, String key, String where) {
        Object v = entry.get(key);
        if (v != null && !(v instanceof String)) {
            throw new CrucibleException(where + ": '" + key + "' must be a string, got " + v);
        }
        return (String) v;
    }

    private static Map<String, String> stringMap(Map<String, ?> entry, String key, String where) {
        Object v = entry.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new CrucibleException(where + ": '" + key + "' must map template keys to dataset keys, got " + v);
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String k) || !(e.getValue() instanceof String s)) {
                throw new CrucibleException(where + ": " + key + "." + e.getKey() + " must be a string, got " + e.getValue());
            }
            out.put(k, s);
        }
        return out;
    }

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
