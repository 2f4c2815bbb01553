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
 *   <li>{@code chat_template} (Axolotl's chat format) and {@code messages}: OpenAI / Hugging Face {@code messages}
 *       of {@code {role, content}} (other keys such as {@code tool_calls} pass through to the template); rendered
 *       through the chat template, with the options of {@link ChatOptions}.</li>
 *   <li>{@code sharegpt}: {@code conversations} of {@code {from, value}} with from human/user, gpt/assistant/model,
 *       system, tool; the same with ShareGPT's field names.</li>
 *   <li>{@code completion}: the {@code text} field (or {@code field}); BOS as the tokenizer adds it, the text,
 *       EOS appended; loss on every token.</li>
 *   <li>{@code text}: the {@code text} field (or {@code field}) tokenised exactly as the tokenizer encodes it,
 *       nothing appended; loss on every token.</li>
 *   <li>{@code preference} and {@code kto}: TRL's preference formats, for {@code rl:} training only
 *       ({@link PreferenceSample}, {@link PreferenceDataset}).</li>
 * </ul>
 */
public enum DatasetType {
    ALPACA("alpaca", null),
    CHAT_TEMPLATE("chat_template", "messages"),
    SHAREGPT("sharegpt", "conversations"),
    MESSAGES("messages", "messages"),
    COMPLETION("completion", "text"),
    TEXT("text", "text"),
    PREFERENCE("preference", null),
    KTO("kto", null);

    /** Axolotl's Alpaca preambles (AlpacaPrompter, instruct style). */
    static final String ALPACA_SYSTEM = "Below is an instruction that describes a task, paired with an input that"
            + " provides further context. Write a response that appropriately completes the request.\n\n";
    static final String ALPACA_SYSTEM_NO_INPUT = "Below is an instruction that describes a task. Write a response"
            + " that appropriately completes the request.\n\n";

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

    /** Whether the format holds preference rows ({@code rl:} training), not SFT samples. */
    public boolean isPreference() {
        return this == PREFERENCE || this == KTO;
    }

    /** Whether the format is rendered through a chat template. */
    public boolean usesChatTemplate() {
        return this == CHAT_TEMPLATE || this == SHAREGPT || this == MESSAGES;
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

    /**
     * The sample of one row with the type's default options (a chat type's are {@link ChatOptions#defaults});
     * {@code field} overrides {@link #defaultField()} (null: the default).
     */
    public Sample toSample(DatasetRow row, String field) {
        if (usesChatTemplate()) {
            return ChatRows.sample(row, configName, ChatOptions.defaults(this, field), null);
        }
        String f = field == null ? defaultField : field;
        return switch (this) {
            case ALPACA -> alpaca(row);
            case COMPLETION -> new Sample.Text(row, "", row.requireString(f, configName), true);
            case TEXT -> new Sample.Text(row, "", row.requireString(f, configName), false);
            case PREFERENCE, KTO -> throw new CrucibleException("datasets: type " + configName + " holds preference"
                    + " rows, which train with rl: (dpo, ipo, orpo, simpo or kto), not supervised fine-tuning");
            default -> throw new IllegalStateException(this + " is a chat type");
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
}
