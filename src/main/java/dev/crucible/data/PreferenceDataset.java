package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.PreferenceExample;

import java.util.ArrayList;
import java.util.List;

/**
 * The dataset side of preference training: reads every configured {@code preference} / {@code kto} dataset (any
 * source {@link DatasetSource} reads), tokenises the rows as TRL 1.13 does ({@link PreferenceTokenizer}) and splits
 * off the validation set. Paired methods need {@code type: preference}; KTO takes {@code type: kto} rows, and
 * {@code type: preference} rows unpaired as TRL unpairs them.
 */
public final class PreferenceDataset {

    /**
     * @param chatTemplate    null: the model's own (used only for conversational rows)
     * @param maxLength       TRL's {@code max_length} (Axolotl sets it to {@code sequence_len})
     * @param maxPromptLength Axolotl's {@code max_prompt_len}, 0 for none
     * @param unpaired        KTO: produce unpaired examples
     */
    public record Config(List<DatasetSpec> datasets, String chatTemplate, PreferenceTokenizer.Style style, int maxLength,
                         int maxPromptLength, boolean unpaired, double valSetSize, long seed) {
        public Config {
            datasets = List.copyOf(datasets);
        }
    }

    private final List<PreferenceExample> train;
    private final List<PreferenceExample> validation;
    private final PreferenceStats stats;

    private PreferenceDataset(List<PreferenceExample> train, List<PreferenceExample> validation, PreferenceStats stats) {
        this.train = train;
        this.validation = validation;
        this.stats = stats;
    }

    public static PreferenceDataset load(Config config, ModelDirectory model, Tokenizer tokenizer) {
        if (config.datasets().isEmpty()) {
            throw new CrucibleException("datasets: at least one dataset is required");
        }
        List<PreferenceSample.Paired> paired = new ArrayList<>();
        List<PreferenceSample.Unpaired> unpaired = new ArrayList<>();
        for (int i = 0; i < config.datasets().size(); i++) {
            DatasetSpec spec = config.datasets().get(i);
            if (spec.type() == DatasetType.KTO && !config.unpaired()) {
                throw new CrucibleException("datasets[" + i + "]: type kto holds unpaired rows (prompt, completion,"
                        + " label), which only rl: kto trains on; the paired methods need type: preference");
            }
            if (!spec.type().isPreference()) {
                throw new CrucibleException("datasets[" + i + "]: type " + spec.type().configName() + " is an SFT format;"
                        + " preference training reads type: preference (prompt, chosen, rejected)"
                        + (config.unpaired() ? " or type: kto (prompt, completion, label)" : ""));
            }
            List<PreferenceSample.Paired> rows = new ArrayList<>();
            for (DatasetRow row : spec.source().read()) {
                if (spec.type() == DatasetType.KTO) {
                    unpaired.add(PreferenceSample.unpaired(row));
                } else {
                    rows.add(PreferenceSample.paired(row));
                }
            }
            if (config.unpaired()) {
                unpaired.addAll(PreferenceSample.unpair(rows));
            } else {
                paired.addAll(rows);
            }
        }
        boolean chat = paired.stream().anyMatch(p -> p.chosen() instanceof List<?>)
                || unpaired.stream().anyMatch(u -> u.completion() instanceof List<?>);
        ChatTemplate template = chat ? ChatTemplates.resolve(config.chatTemplate(), model) : null;
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, config.style(), config.maxLength(),
                config.maxPromptLength());
        List<PreferenceExample> examples = new ArrayList<>(config.unpaired() ? tok.unpaired(unpaired) : tok.pairs(paired));
        ValidationSplit.Split<PreferenceExample> split = ValidationSplit.split(examples, config.valSetSize(), config.seed());
        return new PreferenceDataset(split.train(), split.validation(), tok.stats());
    }

    public List<PreferenceExample> train() {
        return train;
    }

    public List<PreferenceExample> validation() {
        return validation;
    }

    public PreferenceStats stats() {
        return stats;
    }
}
