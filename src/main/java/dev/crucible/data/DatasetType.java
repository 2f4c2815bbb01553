package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The dataset formats, named as Axolotl names them, and how each turns a row into a {@link Sample}.
 *
 * <ul>
 *   <li>{@code alpaca}: {@code instruction}, optional {@code input}, {@code output}; Axolotl's Alpaca prompt
 *       ("Below is an instruction ... ### Instruction:\n...\n\n### Response:\n") followed by the output and EOS.
 *       As in Axolotl, {@code chat_template} does not change this format (use {@code messages} for chat data).</li>
 *   <li>{@code sharegpt}: {@code conversations} of {@code {from, value}} with from human/user, gpt/assistant/model,
 *       system, tool; rendered through the chat template.</li>
 *   <li>{@code messages}: OpenAI / Hugging Face {@code messages} of {@code {role, content}} (other keys such as
 *       {@code tool_calls} pass through to the template); rendered through the chat template.</li>
 *   <li>{@code completion}: the {@code text} field (or {@code field}); BOS as the tokenizer adds it, the text,
 *       EOS appended; loss on every token.</li>
 *   <li>{@code text}: the {@code text} field (or {@code field}) tokenised exactly as the tokenizer encodes it,
 *       nothing appended; loss on every token.</li>
 * </ul>
 */
public enum DatasetType {
    ALPACA("alpaca", null),
    SHAREGPT("sharegpt", "conversations"),
    MESSAGES("messages", "messages"),
    COMPLETION("completion", "text"),
    TEXT("text", "text");

    /** Axolotl's Alpaca preambles (AlpacaPrompter, instruct style). */
    static final String ALPACA_SYSTEM = "Below is an instruction that describes a task, paired with an input that"
            + " provides further context. Write a response that appropriately completes the request.\n\n";
    static final String ALPACA_SYSTEM_NO_INPUT = "Below is an instruction that describes a task. Write a response"
            + " that appropriately completes the request.\n\n";

    private static final Map<String, String> SHAREGPT_ROLES = Map.of("human", "user", "user", "user", "gpt",
            "assistant", "assistant", "assistant", "model", "assistant", "system", "system", "tool", "tool");

    private final String configName;
    private final String defaultField;

    DatasetType(String configName, String defaultField) {
        this.configName = configName;
        this.defaultField = defaultField;
    }

    public String configName() {
        return configName;
    }

    /** The field holding the data when the config sets no {@code field}; null for alpaca (fixed fields). */
    public String defaultField() {
        return defaultField;
    }

    /** Whether the format is rendered through a chat template. */
    public boolean usesChatTemplate() {
        return this == SHAREGPT || this == MESSAGES;
    }

    public static DatasetType parse(String name) {
        for (DatasetType t : values()) {
            if (t.configName.equals(name == null ? null : name.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        List<String> names = new ArrayList<>();
        for (DatasetType t : values()) {
            names.add(t.configName);
        }
        throw new CrucibleException("unknown dataset type '" + name + "' (expected one of " + names + ")");
    }

    /** The sample of one row; {@code field} overrides {@link #defaultField()} (null: the default). */
    public Sample toSample(DatasetRow row, String field) {
        String f = field == null ? defaultField : field;
        return switch (this) {
            case ALPACA -> alpaca(row);
            case SHAREGPT -> new Sample.Chat(row, sharegpt(row, f));
            case MESSAGES -> new Sample.Chat(row, messages(row, f));
            case COMPLETION -> new Sample.Text(row, "", row.requireString(f, configName), true);
            case TEXT -> new Sample.Text(row, "", row.requireString(f, configName), false);
        };
    }

    private Sample alpaca(DatasetRow row) {
        String instruction = row.requireString("instruction", configName);
        String input = row.optionalString("input", configName);
        String output = row.requireString("output", configName);
        String prompt = input == null || input.isEmpty()
                ? ALPACA_SYSTEM_NO_INPUT + "### Instruction:\n" + instruction + "\n\n### Response:\n"
                : ALPACA_SYSTEM + "### Instruction:\n" + instruction + "\n\n### Input:\n" + input + "\n\n### Response:\n";
        return new Sample.Text(row, prompt, output, true);
    }

    private List<Map<String, Object>> sharegpt(DatasetRow row, String field) {
        List<?> turns = row.requireList(field, configName);
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            Map<?, ?> turn = turn(row, field, turns.get(i), i);
            Object from = turn.get("from");
            String role = from instanceof String s ? SHAREGPT_ROLES.get(s.toLowerCase(Locale.ROOT)) : null;
            if (role == null) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "].from is " + describe(from)
                        + " (expected human, user, gpt, assistant, model, system or tool)");
            }
            if (!(turn.get("value") instanceof String value)) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] has no string 'value'");
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", role);
            m.put("content", value);
            messages.add(m);
        }
        return messages;
    }

    @SuppressWarnings("unchecked")
    private List<Map<String, Object>> messages(DatasetRow row, String field) {
        List<?> turns = row.requireList(field, configName);
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            Map<?, ?> turn = turn(row, field, turns.get(i), i);
            if (!(turn.get("role") instanceof String)) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] has no string 'role'");
            }
            boolean hasContent = turn.get("content") != null;
            if (!hasContent && turn.get("tool_calls") == null) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] has no 'content'");
            }
            messages.add(new LinkedHashMap<>((Map<String, Object>) turn));
        }
        return messages;
    }

    private static Map<?, ?> turn(DatasetRow row, String field, Object turn, int i) {
        if (!(turn instanceof Map<?, ?> m)) {
            throw new CrucibleException(row.where() + ": " + field + "[" + i + "] must be an object, got " + describe(turn));
        }
        return m;
    }

    private static String describe(Object v) {
        return v == null ? "missing" : v instanceof String s ? "'" + s + "'" : DatasetRow.kind(v);
    }
}
