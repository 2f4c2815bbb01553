package dev.crucible.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.crucible.CrucibleException;
import dev.crucible.model.template.ChatTemplate;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a dataset row into the conversation a chat template renders, as Axolotl's chat_template strategy does:
 * each message through {@code message_property_mappings} (unmapped keys such as {@code tool_calls} or
 * {@code reasoning_content} pass through), roles through the role mapping, content given as a list of text parts
 * joined into one string, tool-call arguments given as JSON text parsed; the {@code field_system} value prepended as
 * the system message when the conversation has none; {@code drop_system_message}; the row's tools (a list, or its
 * JSON text) passed to the template.
 */
final class ChatRows {
    private ChatRows() {
    }

    static Sample.Chat sample(DatasetRow row, String type, ChatOptions options, ChatTemplate template) {
        String field = options.messagesField();
        List<?> turns = parsedList(row, field, type);
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            messages.add(message(row, field, i, turns.get(i), options));
        }
        Object system = row.fields().get(options.systemField());
        if (system != null && (messages.isEmpty() || !"system".equals(messages.getFirst().get("role")))) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", "system");
            m.put("content", system);
            messages.addFirst(m);
        }
        if (options.dropSystemMessage() && !messages.isEmpty() && "system".equals(messages.getFirst().get("role"))) {
            messages.removeFirst();
        }
        return new Sample.Chat(row, messages, tools(row, options.toolsField()), options.loss(), template);
    }

    private static Map<String, Object> message(DatasetRow row, String field, int i, Object turn, ChatOptions options) {
        String where = row.where() + ": " + field + "[" + i + "]";
        if (!(turn instanceof Map<?, ?> source)) {
            throw new CrucibleException(where + " must be an object, got " + describe(turn));
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> p : options.properties().entrySet()) {
            Object v = source.get(p.getValue());
            if (v != null) {
                m.put(p.getKey(), v);
            }
        }
        for (Map.Entry<?, ?> e : source.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (e.getValue() != null && !options.properties().containsValue(key)) {
                m.putIfAbsent(key, e.getValue());
            }
        }
        String roleKey = options.properties().get("role");
        if (!(m.get("role") instanceof String role)) {
            throw new CrucibleException(where + " has no string '" + roleKey + "'");
        }
        String mappedRole = options.roles().get(role);
        if (mappedRole == null && options.strictRoles()) {
            throw new CrucibleException(where + "." + roleKey + " is '" + role + "' (expected "
                    + String.join(", ", options.roles().keySet()).replaceFirst(", ([^,]*)$", " or $1") + ")");
        }
        m.put("role", mappedRole != null ? mappedRole : role);
        if (m.get("content") == null && m.get("tool_calls") == null) {
            throw new CrucibleException(where + " has no '" + options.properties().get("content") + "'");
        }
        if (m.get("content") instanceof List<?> parts) {
            m.put("content", joinedText(parts, where));
        }
        if (m.get("tool_calls") instanceof List<?> calls) {
            m.put("tool_calls", parsedFunctionField(calls, "arguments", where + ".tool_calls"));
        }
        return m;
    }

    /** Content given as parts ({@code [{"type": "text", "text": ...}]}) becomes their text, as Axolotl joins it. */
    private static String joinedText(List<?> parts, String where) {
        StringBuilder sb = new StringBuilder();
        for (Object p : parts) {
            if (!(p instanceof Map<?, ?> part)) {
                throw new CrucibleException(where + ".content parts must be objects, got " + describe(p));
            }
            if (part.containsKey("train") || part.containsKey("weight")) {
                throw new CrucibleException(where + ".content: per-part 'train'/'weight' flags are not supported (the"
                        + " whole turn is trained by roles_to_train)");
            }
            for (String key : new String[] {"text", "content", "value"}) {
                if (part.get(key) instanceof String s && !s.isEmpty()) {
                    sb.append(s);
                    break;
                }
            }
        }
        return sb.toString();
    }

    /** The row's tools: a list of tool schemas (parameters given as JSON text are parsed), or null. */
    private static List<?> tools(DatasetRow row, String field) {
        Object v = row.fields().get(field);
        if (v == null) {
            return null;
        }
        if (v instanceof String s) {
            v = parseJson(s, row.where() + ": field '" + field + "'");
        }
        if (!(v instanceof List<?> tools)) {
            throw new CrucibleException(row.where() + ": field '" + field + "' must be a list of tools, got " + describe(v));
        }
        return parsedFunctionField(tools, "parameters", row.where() + ": " + field);
    }

    /**
     * Tool calls or tools whose {@code function.<key>} (a call's arguments, a tool's parameters) is JSON text get it
     * as an object, as Axolotl parses them for the templates; the input is not modified.
     */
    private static List<Object> parsedFunctionField(List<?> items, String key, String where) {
        List<Object> out = new ArrayList<>();
        for (Object item : items) {
            if (item instanceof Map<?, ?> m && m.get("function") instanceof Map<?, ?> fn
                    && fn.get(key) instanceof String json) {
                Map<Object, Object> f = new LinkedHashMap<>(fn);
                f.put(key, parseJson(json, where + " " + key));
                Map<Object, Object> copy = new LinkedHashMap<>(m);
                copy.put("function", f);
                out.add(copy);
            } else {
                out.add(item);
            }
        }
        return out;
    }

    /** The messages list; a JSON text holding the list is parsed (Axolotl accepts both). */
    private static List<?> parsedList(DatasetRow row, String field, String type) {
        if (row.fields().get(field) instanceof String s && s.strip().startsWith("[")) {
            Object v = parseJson(s, row.where() + ": field '" + field + "'");
            if (v instanceof List<?> list) {
                return list;
            }
        }
        return row.requireList(field, type);
    }

    private static Object parseJson(String text, String what) {
        try {
            return DatasetReader.JSON.readValue(text, Object.class);
        } catch (JsonProcessingException e) {
            throw new CrucibleException(what + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    static String describe(Object v) {
        return v == null ? "missing" : v instanceof String s ? "'" + s + "'" : DatasetRow.kind(v);
    }
}
