package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetSpec;
import dev.crucible.io.YamlFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A {@code crucible train} (= {@code crucible sft}) YAML config with Axolotl's key names: supervised fine-tuning, or
 * with {@code rl:} preference training (see {@link Preference}). Every value is type- and range-checked here, before any
 * model is opened or any data read, with a message naming the key. Keys Crucible does not implement are handled by
 * {@link AxolotlKeys} (notes, warnings, or an error for a likely typo). Relative paths resolve against the config's
 * directory.
 *
 * @param lora        null for full fine-tuning; for the adapter methods rank, alpha, targets, ... (Axolotl's lora_*)
 * @param optimizer   its warmupSteps is 0 when {@code warmupRatio} decides the warmup (known once steps are)
 * @param maxSteps    0: derived from {@code numEpochs}
 * @param saves       save_steps / saves_per_epoch; {@code evals} likewise; {@code logs}: logging_steps
 * @param notes       lines to print before training (notes on keys that do not apply, warnings on ignored keys)
 * @param preference  null for supervised fine-tuning
 * @param randomInitWeights Axolotl's {@code random_init_weights}: train from scratch, base_model giving only the
 *                    config and the tokenizer (its weights, if any, are not read)
 */
public record TrainConfig(Path baseModel, List<DatasetSpec> datasets, String chatTemplate, int sequenceLen, boolean samplePacking,
                 boolean padToSequenceLen, boolean trainOnInputs, double valSetSize, Map<String, String> specialTokens,
                 String adapter, Trainer.Lora lora, Trainer.Optimizer optimizer, double warmupRatio,
                 int microBatchSize, int gradientAccumulationSteps, double numEpochs, int maxSteps,
                 boolean gradientCheckpointing, long seed, Path outputDir, Interval saves, Interval evals, Interval logs,
                 int saveTotalLimit, Resume resume, List<String> notes, Preference preference,
                 boolean randomInitWeights) {

    /** The keys Crucible implements. */
    static final Set<String> KEYS = new TreeSet<>(List.of("base_model", "datasets", "chat_template", "chat_template_jinja",
            "sequence_len", "sample_packing", "pad_to_sequence_len", "adapter", "load_in_4bit", "lora_r", "lora_alpha",
            "lora_dropout", "lora_target_modules", "lora_target_linear", "lora_modules_to_save", "lora_model_dir",
            "peft_use_rslora", "peft_use_dora", "micro_batch_size", "gradient_accumulation_steps", "num_epochs",
            "max_steps", "learning_rate", "lr_scheduler", "warmup_steps", "warmup_ratio", "weight_decay", "adam_beta1",
            "adam_beta2", "adam_epsilon", "max_grad_norm", "gradient_checkpointing", "train_on_inputs", "val_set_size",
            "seed", "output_dir", "save_steps", "saves_per_epoch", "save_total_limit", "eval_steps", "evals_per_epoch",
            "logging_steps", "resume_from_checkpoint", "auto_resume_from_checkpoints", "special_tokens", "strict",
            "rl", "rl_beta", "orpo_alpha", "simpo_gamma", "cpo_alpha", "dpo_label_smoothing", "precompute_ref_log_probs",
            "rpo_alpha", "dpo_loss_type", "dpo_loss_weights", "kto_desirable_weight", "kto_undesirable_weight",
            "max_prompt_len", "random_init_weights"));

    /** The keys of preference training, each with the methods it applies to. */
    private static final Map<String, Set<PreferenceMethod>> PREFERENCE_KEYS = Map.ofEntries(
            Map.entry("rl_beta", Set.of(PreferenceMethod.values())),
            Map.entry("orpo_alpha", Set.of(PreferenceMethod.ORPO)),
            Map.entry("simpo_gamma", Set.of(PreferenceMethod.SIMPO)),
            Map.entry("cpo_alpha", Set.of(PreferenceMethod.SIMPO)),
            Map.entry("dpo_label_smoothing", Set.of(PreferenceMethod.DPO)),
            Map.entry("rpo_alpha", Set.of(PreferenceMethod.DPO)),
            Map.entry("dpo_loss_type", Set.of(PreferenceMethod.DPO)),
            Map.entry("dpo_loss_weights", Set.of(PreferenceMethod.DPO)),
            Map.entry("precompute_ref_log_probs", Set.of(PreferenceMethod.DPO, PreferenceMethod.IPO, PreferenceMethod.KTO)),
            Map.entry("kto_desirable_weight", Set.of(PreferenceMethod.KTO)),
            Map.entry("kto_undesirable_weight", Set.of(PreferenceMethod.KTO)),
            Map.entry("max_prompt_len", Set.of(PreferenceMethod.values())));

    /**
     * {@code rl:} and its keys, as Axolotl passes them to TRL 1.13: {@code rl_beta} is TRL's beta (for ORPO
     * {@code orpo_alpha} when rl_beta is unset; default 0.1), {@code simpo_gamma} (0.5) and {@code cpo_alpha} (1.0)
     * SimPO's, {@code dpo_label_smoothing} DPO's robust ε, {@code rpo_alpha} (0) DPO's weight of the chosen
     * completions' cross entropy (RPO; also {@code dpo_loss_type} [sigmoid, sft], see {@link #dpoLossTypes}, which
     * makes [ipo] IPO), {@code kto_desirable_weight} / {@code kto_undesirable_weight}
     * (1.0) KTO's; {@code precompute_ref_log_probs} (default true: see {@code PreferenceObjective.Config}),
     * {@code max_prompt_len} (0: none) keeps the last that many prompt tokens; {@code sequence_len} is TRL's max_length.
     */
    public record Preference(PreferenceMethod method, PreferenceLoss.Params params, boolean precomputeReference,
                      int maxPromptLen) {
    }

    /** The longest sequence_len accepted: beyond every model's context, small enough for int token arithmetic. */
    public static final int MAX_SEQUENCE_LEN = 1 << 24;
    private static final int MAX_COUNT = 1 << 20;

    /**
     * How often something happens: every {@code steps} optimiser steps (below 1: that fraction of the run, rounded
     * up, as the Hugging Face Trainer reads it), or {@code perEpoch} times per epoch (Axolotl: the fraction
     * 1 / (perEpoch · num_epochs) of the run); both 0 = never.
     */
    public record Interval(double steps, int perEpoch) {
        public int resolve(int totalSteps, double numEpochs) {
            double fraction = steps > 0 && steps < 1 ? steps : perEpoch > 0 ? 1.0 / (perEpoch * numEpochs) : 0;
            if (fraction > 0) {
                return fraction < 1 ? (int) Math.ceil(totalSteps * fraction) : 0; // once a run or less: at the end only
            }
            return (int) steps;
        }
    }

    /** resume_from_checkpoint: a path, {@code true} (the latest checkpoint in output_dir), or none. */
    public record Resume(Path checkpoint, boolean latest, boolean auto) {
        public static final Resume NONE = new Resume(null, false, false);
    }

    public static TrainConfig read(Path file) {
        YamlFile yaml = YamlFile.read(file, "the config");
        if (!(yaml.root() instanceof Map<?, ?> map)) {
            throw new CrucibleException(file + ": expected a mapping of keys (base_model, datasets, ...)");
        }
        ConfigValues r = new ConfigValues(yaml, map);
        List<String> notes = new ArrayList<>(AxolotlKeys.check(yaml, map, KEYS, r.bool("strict", true)));
        Path dir = file.toAbsolutePath().getParent();

        String base = r.string("base_model", null);
        if (base == null) {
            throw r.error("base_model", "'base_model' (a local model directory) is required");
        }
        String adapter = r.string("adapter", "none");
        if (adapter.isEmpty() || adapter.equals("null")) {
            adapter = "none";
        }
        if (!List.of("none", "full", "lora", "qlora", "dora").contains(adapter)) {
            throw r.error("adapter", "'adapter' is '" + adapter + "', expected lora, qlora, dora or none (full fine-tuning)");
        }
        adapter = method(r, adapter, r.bool("load_in_4bit", false), r.bool("peft_use_dora", false));
        boolean full = adapter.equals("none");

        int sequenceLen = r.intValue("sequence_len", 2048, 2, MAX_SEQUENCE_LEN);
        int microBatch = r.intValue("micro_batch_size", 1, 1, MAX_COUNT);
        if ((long) microBatch * sequenceLen > Integer.MAX_VALUE) {
            throw r.error("micro_batch_size", "micro_batch_size " + microBatch + " × sequence_len " + sequenceLen
                    + " tokens do not fit one batch (at most " + Integer.MAX_VALUE + ")");
        }
        int accumulation = r.intValue("gradient_accumulation_steps", 1, 1, MAX_COUNT);
        double numEpochs = r.number("num_epochs", 1, 0, true, 1e6, false, null);
        long maxSteps = r.integer("max_steps", 0, -1, Integer.MAX_VALUE);

        double lr = r.number("learning_rate", 2e-4, 0, true, 1, false,
                "0 trains nothing and a negative rate climbs the loss");
        double weightDecay = r.number("weight_decay", 0, 0, false, Double.POSITIVE_INFINITY, false, null);
        if (lr * weightDecay >= 1) {
            throw r.error("weight_decay", "weight_decay " + weightDecay + " × learning_rate " + lr
                    + " must stay below 1 (AdamW multiplies each weight by 1 - lr × weight_decay every step)");
        }
        String scheduler = r.string("lr_scheduler", "cosine");
        if (!List.of("cosine", "linear", "constant", "constant_with_warmup").contains(scheduler)) {
            throw r.error("lr_scheduler", "'lr_scheduler' is '" + scheduler
                    + "', expected cosine, linear, constant or constant_with_warmup");
        }
        int warmupSteps = r.intValue("warmup_steps", 0, 0, Integer.MAX_VALUE);
        double warmupRatio = r.number("warmup_ratio", 0, 0, false, 1, false, null);
        mutuallyExclusive(r, "warmup_steps", "warmup_ratio");
        Trainer.Optimizer optimizer = new Trainer.Optimizer(lr, scheduler, warmupSteps, weightDecay,
                r.number("adam_beta1", 0.9, 0, false, 1, true, null), r.number("adam_beta2", 0.999, 0, false, 1, true, null),
                r.number("adam_epsilon", 1e-8, 0, false, 1, false, null),
                r.number("max_grad_norm", 1.0, 0, false, Double.POSITIVE_INFINITY, false, "0 turns clipping off"));

        double valSetSize = r.number("val_set_size", 0, 0, false, Integer.MAX_VALUE, false, null);
        if (valSetSize >= 1 && valSetSize != Math.rint(valSetSize)) {
            throw r.error("val_set_size", "'val_set_size' must be a fraction below 1 or a whole number of"
                    + " examples, got " + valSetSize);
        }
        mutuallyExclusive(r, "save_steps", "saves_per_epoch");
        mutuallyExclusive(r, "eval_steps", "evals_per_epoch");
        Interval saves = new Interval(steps(r, "save_steps", 0), r.intValue("saves_per_epoch", 0, 1, MAX_COUNT));
        Interval evals = new Interval(steps(r, "eval_steps", 0), r.intValue("evals_per_epoch", 0, 1, MAX_COUNT));
        Interval logs = new Interval(steps(r, "logging_steps", 1), 0);
        if (logs.steps() == 0) {
            throw r.error("logging_steps", "'logging_steps' must be at least 1 (or a fraction of the run), got 0");
        }

        Trainer.Lora lora = full ? null : lora(r, dir);
        if (full) {
            for (String key : List.of("lora_modules_to_save", "lora_model_dir")) {
                if (r.has(key) && !(r.map().get(key) instanceof List<?> l && l.isEmpty())) {
                    throw r.error(key, "'" + key + "' needs an adapter (adapter: lora, qlora or dora)");
                }
            }
        }
        Preference preference = preference(r, microBatch, lora, notes);
        boolean randomInit = r.bool("random_init_weights", false);
        if (randomInit && (!full || preference != null)) {
            throw r.error("random_init_weights", "'random_init_weights: true' trains a model from scratch: it needs full"
                    + " fine-tuning (no adapter) and no rl:");
        }
        return new TrainConfig(dir.resolve(base).normalize(), datasets(r, dir), chatTemplate(r, dir), sequenceLen,
                r.bool("sample_packing", false), r.bool("pad_to_sequence_len", false), r.bool("train_on_inputs", false),
                valSetSize, specialTokens(r), full ? "full" : adapter, lora, optimizer, warmupRatio, microBatch,
                accumulation, numEpochs, (int) Math.max(0, maxSteps), r.bool("gradient_checkpointing", false),
                r.integer("seed", 42, 0, Long.MAX_VALUE), dir.resolve(r.string("output_dir", "outputs")).normalize(),
                saves, evals, logs, r.intValue("save_total_limit", 0, 1, Integer.MAX_VALUE), resume(r, dir), List.copyOf(notes),
                preference, randomInit);
    }

    /** The {@code rl:} section, checked against the method; null without {@code rl}. */
    private static Preference preference(ConfigValues r, int microBatch, Trainer.Lora lora, List<String> notes) {
        String rl = r.string("rl", null);
        if (rl == null || rl.isEmpty() || rl.equals("null") || rl.equals("false")) {
            for (String key : new TreeSet<>(PREFERENCE_KEYS.keySet())) {
                if (r.has(key)) {
                    throw r.error(key, "'" + key + "' applies to preference training (rl: dpo, ipo,"
                            + " orpo, simpo or kto), and this config has no rl");
                }
            }
            return null;
        }
        PreferenceMethod method;
        try {
            method = PreferenceMethod.parse(rl);
        } catch (CrucibleException e) {
            throw r.error("rl", e.getMessage() + " (Axolotl's grpo, gdpo and ebft generate"
                    + " completions while training, which Crucible does not implement)", e);
        }
        for (String key : new TreeSet<>(PREFERENCE_KEYS.keySet())) {
            if (r.has(key) && !PREFERENCE_KEYS.get(key).contains(method)) {
                throw r.error(key, "'" + key + "' does not apply to rl: " + method.configName());
            }
        }
        for (String key : List.of("sample_packing", "train_on_inputs", "pad_to_sequence_len")) {
            if (r.bool(key, false)) {
                throw r.error(key, "'" + key + "' does not apply to preference training (each pair's"
                        + " completions carry the loss; TRL 1.13 has no packing for preference data)");
            }
        }
        if (method == PreferenceMethod.KTO && microBatch < 2) {
            throw r.error("rl", "rl: kto needs micro_batch_size of at least 2 (its KL estimate pairs each"
                    + " row with another row of its micro-batch, as TRL requires)");
        }
        double beta = r.has("rl_beta") ? r.number("rl_beta", 0.1, 0, true, Double.POSITIVE_INFINITY, false, null)
                : r.number("orpo_alpha", 0.1, 0, true, Double.POSITIVE_INFINITY, false, null);
        double smoothing = r.number("dpo_label_smoothing", 0, 0, false, 0.5, true,
                "TRL's robust DPO reads it as the probability of a flipped label");
        double gamma = r.number("simpo_gamma", 0.5, Double.NEGATIVE_INFINITY, false, Double.POSITIVE_INFINITY, false, null);
        double cpoAlpha = r.number("cpo_alpha", 1.0, 0, false, Double.POSITIVE_INFINITY, false, null);
        double rpoAlpha = r.number("rpo_alpha", 0, 0, false, Double.POSITIVE_INFINITY, false, null);
        DpoLossTypes types = dpoLossTypes(r);
        if (types.ipo()) {
            method = PreferenceMethod.IPO;
            for (String key : List.of("dpo_label_smoothing", "rpo_alpha")) {
                if (r.has(key)) {
                    throw r.error(key, "'" + key + "' does not apply to dpo_loss_type [ipo] (TRL's IPO loss reads"
                            + " neither)");
                }
            }
        }
        if (!Double.isNaN(types.sftWeight())) {
            if (r.has("rpo_alpha")) {
                throw r.error("rpo_alpha", "'rpo_alpha' and dpo_loss_type's sft weight are the same term; give one");
            }
            rpoAlpha = types.sftWeight();
        }
        if (types.sigmoid() && smoothing > 0) {
            throw r.error("dpo_label_smoothing", "'dpo_label_smoothing' " + smoothing + " with dpo_loss_type [sigmoid]:"
                    + " TRL's sigmoid loss ignores it; write dpo_loss_type [robust] for the robust DPO loss it smooths");
        }
        double desirable = r.number("kto_desirable_weight", 1.0, 0, true, Double.POSITIVE_INFINITY, false, null);
        double undesirable = r.number("kto_undesirable_weight", 1.0, 0, true, Double.POSITIVE_INFINITY, false, null);
        int maxPromptLen = r.intValue("max_prompt_len", 0, 1, MAX_SEQUENCE_LEN);
        if (smoothing > 0) {
            notes.add("note: dpo_label_smoothing " + smoothing + ": TRL 1.13 applies label smoothing only in its robust"
                    + " DPO loss (loss_type robust), which Crucible trains");
        }
        if (lora != null && lora.dropout() > 0 && lora.initialAdapter() == null) {
            notes.add("note: lora_dropout " + lora.dropout() + " is off in preference training, as TRL's disable_dropout"
                    + " (default true) turns every dropout off");
        }
        return new Preference(method, new PreferenceLoss.Params(beta, smoothing, gamma, cpoAlpha, desirable, undesirable,
                rpoAlpha),
                method.usesReference() && r.bool("precompute_ref_log_probs", true), maxPromptLen);
    }

    /**
     * Axolotl's {@code dpo_loss_type} / {@code dpo_loss_weights} (with {@code rl: dpo}; its current form of IPO and
     * RPO), which it passes to TRL as {@code loss_type} / {@code loss_weights}: the losses Crucible trains are one of
     * sigmoid, robust (sigmoid smoothed by {@code dpo_label_smoothing}) or ipo at weight 1, optionally followed by
     * sft, the chosen completions' cross entropy at its weight (what {@code rpo_alpha} sets).
     *
     * @param ipo       the loss is IPO's
     * @param sigmoid   the loss is named sigmoid (TRL then ignores label smoothing)
     * @param sftWeight the weight of sft; NaN without it
     */
    private record DpoLossTypes(boolean ipo, boolean sigmoid, double sftWeight) {
    }

    private static DpoLossTypes dpoLossTypes(ConfigValues r) {
        List<String> types = r.strings("dpo_loss_type");
        List<String> written = r.strings("dpo_loss_weights");
        if (types.isEmpty()) {
            if (!written.isEmpty()) {
                throw r.error("dpo_loss_weights", "'dpo_loss_weights' needs dpo_loss_type (one weight per loss type)");
            }
            return new DpoLossTypes(false, false, Double.NaN);
        }
        boolean supported = List.of("sigmoid", "robust", "ipo").contains(types.get(0))
                && (types.size() == 1 || (types.size() == 2 && types.get(1).equals("sft") && !types.get(0).equals("ipo")));
        if (!supported) {
            throw r.error("dpo_loss_type", "'dpo_loss_type' is " + types + "; Crucible trains [sigmoid], [robust], [ipo],"
                    + " [sigmoid, sft] and [robust, sft] (TRL's other losses and combinations are not implemented)");
        }
        if (!written.isEmpty() && written.size() != types.size()) {
            throw r.error("dpo_loss_weights", "'dpo_loss_weights' has " + written.size() + " weights for the "
                    + types.size() + " losses of dpo_loss_type " + types);
        }
        double[] weights = new double[types.size()];
        for (int i = 0; i < weights.length; i++) {
            try {
                weights[i] = written.isEmpty() ? 1 : Double.parseDouble(written.get(i).strip());
            } catch (NumberFormatException e) {
                throw r.error("dpo_loss_weights", "'dpo_loss_weights' must be a list of numbers, got " + written);
            }
            if (!(weights[i] >= 0) || Double.isInfinite(weights[i])) {
                throw r.error("dpo_loss_weights", "'dpo_loss_weights' must be finite numbers of at least 0, got " + written);
            }
        }
        if (weights[0] != 1) {
            throw r.error("dpo_loss_weights", "'dpo_loss_weights' puts " + written.get(0) + " on " + types.get(0)
                    + "; Crucible trains it at weight 1");
        }
        return new DpoLossTypes(types.get(0).equals("ipo"), types.get(0).equals("sigmoid"),
                types.size() == 2 ? weights[1] : Double.NaN);
    }

    private static Trainer.Lora lora(ConfigValues r, Path dir) {
        List<String> targets = r.strings("lora_target_modules");
        // a single string is a regular expression over module paths, as PEFT reads it (all-linear excepted)
        boolean regex = r.map().get("lora_target_modules") instanceof String s && !s.equals("all-linear");
        if (r.bool("lora_target_linear", false) || targets.isEmpty()) {
            targets = List.of("all-linear");
            regex = false;
        }
        String initial = r.string("lora_model_dir", null);
        return new Trainer.Lora(r.intValue("lora_r", 8, 1, 1 << 16),
                r.number("lora_alpha", 16, 0, true, 1e6, false, null),
                r.number("lora_dropout", 0, 0, false, 1, true, null), targets, regex, r.bool("peft_use_rslora", false),
                r.strings("lora_modules_to_save"), initial == null ? null : dir.resolve(initial).normalize());
    }

    /** A steps key: a whole number of steps or a fraction of the run below 1 (0 = never). */
    private static double steps(ConfigValues r, String key, double fallback) {
        double v = r.number(key, fallback, 0, false, Integer.MAX_VALUE, false, null);
        if (v > 1 && v != Math.rint(v)) {
            throw r.error(key, "'" + key + "' must be a whole number of steps or a fraction of"
                    + " the run below 1, got " + r.map().get(key));
        }
        return v;
    }

    private static void mutuallyExclusive(ConfigValues r, String a, String b) {
        if (isNonZero(r.map().get(a)) && isNonZero(r.map().get(b))) {
            throw r.error(a, "'" + a + "' and '" + b + "' are mutually exclusive; set one");
        }
    }

    private static boolean isNonZero(Object v) {
        return v != null && !(v instanceof Number n && n.doubleValue() == 0) && !"0".equals(String.valueOf(v));
    }

    private static List<DatasetSpec> datasets(ConfigValues r, Path dir) {
        List<DatasetSpec> datasets = new ArrayList<>();
        Object ds = r.map().get("datasets");
        if (!(ds instanceof List<?> list) || list.isEmpty()) {
            throw r.error("datasets", "'datasets' must be a list of {path, type}");
        }
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> d)) {
                throw r.error("datasets[" + i + "]", "datasets[" + i + "] must be a mapping {path, type}, got " + list.get(i));
            }
            Map<String, Object> entry = new LinkedHashMap<>();
            d.forEach((k, v) -> entry.put(String.valueOf(k), v));
            try {
                datasets.add(DatasetSpec.fromConfig(entry, i, dir));
            } catch (CrucibleException e) {
                throw r.yaml().locate(e);
            }
        }
        return datasets;
    }

    /** chat_template: a name, a .jinja file (relative to the config) or, with Axolotl's {@code jinja}, chat_template_jinja. */
    private static String chatTemplate(ConfigValues r, Path dir) {
        String template = r.string("chat_template", null);
        if ("jinja".equals(template)) {
            template = r.string("chat_template_jinja", null);
            if (template == null) {
                throw r.error("chat_template", "'chat_template: jinja' needs 'chat_template_jinja' (the template"
                        + " source or a .jinja file)");
            }
        } else if (r.has("chat_template_jinja")) {
            throw r.error("chat_template_jinja", "'chat_template_jinja' is read only with 'chat_template: jinja'");
        }
        if (template != null && template.endsWith(".jinja") && !Path.of(template).isAbsolute()) {
            template = dir.resolve(template).toString(); // template files, like datasets, are relative to the config
        }
        return template;
    }

    /** Axolotl's special_tokens: bos/eos/pad/unk_token overrides of the tokenizer's. */
    private static Map<String, String> specialTokens(ConfigValues r) {
        Map<String, String> tokens = r.stringMap("special_tokens");
        for (String key : tokens.keySet()) {
            if (!List.of("bos_token", "eos_token", "pad_token", "unk_token").contains(key)) {
                throw r.error("special_tokens." + key, "'special_tokens." + key + "' is not supported; expected"
                        + " bos_token, eos_token, pad_token or unk_token");
            }
        }
        return tokens;
    }

    private static Resume resume(ConfigValues r, Path dir) {
        boolean auto = r.bool("auto_resume_from_checkpoints", false);
        Object v = r.map().get("resume_from_checkpoint");
        if (v == null || Boolean.FALSE.equals(v)) {
            return auto ? new Resume(null, true, true) : Resume.NONE;
        }
        if (Boolean.TRUE.equals(v)) {
            return new Resume(null, true, false);
        }
        return new Resume(dir.resolve(r.string("resume_from_checkpoint", null)).normalize(), false, false);
    }

    /**
     * The training method from Axolotl's keys: {@code load_in_4bit} puts a LoRA or DoRA adapter over an NF4 base
     * (as {@code adapter: qlora} does), {@code peft_use_dora} makes a LoRA or QLoRA adapter DoRA; both together are
     * QDoRA ("qdora"). Full fine-tuning takes neither.
     */
    private static String method(ConfigValues r, String adapter, boolean fourBit, boolean useDora) {
        boolean full = adapter.equals("none") || adapter.equals("full");
        if (full && (fourBit || useDora)) {
            throw r.error(fourBit ? "load_in_4bit" : "peft_use_dora", "'" + (fourBit ? "load_in_4bit" : "peft_use_dora")
                    + "' needs an adapter (adapter: lora, qlora or dora); full fine-tuning trains the float weights");
        }
        if (full) {
            return "none";
        }
        boolean nf4 = fourBit || adapter.equals("qlora");
        boolean dora = useDora || adapter.equals("dora");
        return nf4 ? (dora ? "qdora" : "qlora") : (dora ? "dora" : "lora");
    }
}
