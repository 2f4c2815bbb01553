package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The dataset side of {@code crucible sft}: reads every configured dataset, formats and tokenises its rows,
 * splits off the validation set and packs or pads them into training sequences.
 *
 * <p>Order of work: rows (dataset order, then file order) -> {@link SftExample}s (truncated to
 * {@code sequence_len}, counted) -> {@link ValidationSplit} by {@code val_set_size} and {@code seed} -> for each
 * part, {@link SamplePacker} when {@code sample_packing} is on, else one {@link PackedSequence} per example.
 */
public final class SftDataset {

    /** The dataset keys of the SFT config. {@code chatTemplate} null means the model's own template. */
    public record Config(List<DatasetSpec> datasets, String chatTemplate, int sequenceLen, boolean trainOnInputs,
                         boolean samplePacking, double valSetSize, long seed) {
        public Config {
            datasets = List.copyOf(datasets);
        }
    }

    private final Config config;
    private final List<SftExample> train;
    private final List<SftExample> validation;
    private final DatasetStats stats;

    private SftDataset(Config config, List<SftExample> train, List<SftExample> validation, DatasetStats stats) {
        this.config = config;
        this.train = train;
        this.validation = validation;
        this.stats = stats;
    }

    /**
     * Loads the datasets with the model's tokenizer (and chat template when a chat format is used or
     * {@code chat_template} is set).
     */
    public static SftDataset load(Config config, ModelDirectory model, Tokenizer tokenizer) {
        if (config.datasets().isEmpty()) {
            throw new CrucibleException("datasets: at least one dataset is required");
        }
        for (int i = 0; i < config.datasets().size(); i++) {
            if (config.datasets().get(i).type().isPreference()) {
                throw new CrucibleException("datasets[" + i + "]: type " + config.datasets().get(i).type().configName()
                        + " holds preference rows; train them with rl: (dpo, ipo, orpo, simpo or kto)");
            }
        }
        boolean chat = config.chatTemplate() != null || config.datasets().stream().anyMatch(
                d -> d.type().usesChatTemplate() && d.chat().chatTemplate() == null);
        ChatTemplate template = chat ? ChatTemplates.resolve(config.chatTemplate(), model) : null;
        ExampleBuilder builder = new ExampleBuilder(tokenizer, template, config.sequenceLen(), config.trainOnInputs());
        Map<String, ChatTemplate> own = new HashMap<>(); // datasets with their own chat_template (Axolotl allows it)
        List<Sample> samples = new ArrayList<>();
        for (DatasetSpec spec : config.datasets()) {
            String setting = spec.chat() == null ? null : spec.chat().chatTemplate();
            ChatTemplate t = setting == null ? template : own.computeIfAbsent(setting, s -> ChatTemplates.resolve(s, model));
            samples.addAll(spec.samples(t));
        }
        List<SftExample> examples = builder.buildAll(samples);
        ValidationSplit.Split<SftExample> split = ValidationSplit.split(examples, config.valSetSize(), config.seed());
        return new SftDataset(config, split.train(), split.validation(), builder.stats());
    }

    public List<SftExample> train() {
        return train;
    }

    public List<SftExample> validation() {
        return validation;
    }

    public DatasetStats stats() {
        return stats;
    }

    /** Training sequences: packed to {@code sequence_len} with sample packing, else one per example. */
    public List<PackedSequence> trainSequences() {
        return sequences(train);
    }

    public List<PackedSequence> validationSequences() {
        return sequences(validation);
    }

    private List<PackedSequence> sequences(List<SftExample> examples) {
        if (config.samplePacking()) {
            return SamplePacker.pack(examples, config.sequenceLen());
        }
        List<PackedSequence> out = new ArrayList<>(examples.size());
        for (SftExample e : examples) {
            out.add(PackedSequence.of(e));
        }
        return out;
    }
}
