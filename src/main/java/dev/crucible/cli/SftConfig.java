package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetSpec;
import dev.crucible.io.YamlErrors;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A {@code crucible sft} YAML config with Axolotl's key names. Unknown keys are an error that names them, so a
 * typo never silently falls back to a default. Relative paths are resolved against the config's directory.
 */
record SftConfig(Path baseModel, List<DatasetSpec> datasets, String chatTemplate, int sequenceLen, boolean samplePacking,
                 String adapter,
                 int loraR, double loraAlpha, double loraDropout, List<String> loraTargetModules, boolean useRslora,
                 int microBatchSize, int gradientAccumulationSteps, double numEpochs, int maxSteps, double learningRate,
                 String lrScheduler, int warmupSteps, double warmupRatio, double weightDecay, double maxGradNorm,
                 boolean gradientCheckpointing, boolean trainOnInputs, double valSetSize, long seed, Path outputDir,
                 int saveSteps, int evalSteps, Path resumeFromCheckpoint) {

    static final Set<String> KEYS = new TreeSet<>(List.of("base_model", "datasets", "chat_template", "sequence_len",
            "sample_packing", "adapter", "load_in_4bit", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
            "lora_target_linear", "peft_use_rslora", "peft_use_dora", "micro_batch_size", "gradient_accumulation_steps", "num_epochs",
            "max_steps", "learning_rate", "lr_scheduler", "warmup_steps", "warmup_ratio", "weight_decay", "max_grad_norm",
            "gradient_checkpointing", "train_on_inputs", "val_set_size", "seed", "output_dir", "save_steps", "eval_steps",
            "resume_from_checkpoint"));

    static SftConfig read(Path file) {
        Object root;
        try {
            root = new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        } catch (YamlEngineException e) {
            throw new CrucibleException(file + ": not valid YAML: " + YamlErrors.describe(e), e);
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new CrucibleException(file + ": expected a mapping of keys (base_model, datasets, ...)");
        }
        Set<String> unknown = new TreeSet<>();
        for (Object k : map.keySet()) {
            if (!KEYS.contains(String.valueOf(k))) {
                unknown.add(String.valueOf(k));
            }
        }
        if (!unknown.isEmpty()) {
            throw new CrucibleException(file + ": unknown key" + (unknown.size() > 1 ? "s " : " ") + unknown
                    + "; known keys are " + KEYS);
        }
        Reader r = new Reader(file, map);
        Path dir = file.toAbsolutePath().getParent();
        String adapter = r.string("adapter", "none");
        if (adapter == null || adapter.isEmpty() || adapter.equals("null")) {
            adapter = "none";
        }
        if (!List.of("none", "full", "lora", "qlora", "dora").contains(adapter)) {
            throw new CrucibleException(file + ": 'adapter' is '" + adapter + "', expected lora, qlora, dora or none (full fine-tuning)");
        }
        adapter = method(file, adapter, r.bool("load_in_4bit", false), r.bool("peft_use_dora", false));
        List<String> targets = r.strings("lora_target_modules");
        if (r.bool("lora_target_linear", false) || targets.isEmpty()) {
            targets = List.of("all-linear");
        }
        List<DatasetSpec> datasets = new ArrayList<>();
        Object ds = map.get("datasets");
        if (!(ds instanceof List<?> list) || list.isEmpty()) {
            throw new CrucibleException(file + ": 'datasets' must be a list of {path, type}");
        }
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> d)) {
                throw new CrucibleException(file + ": datasets[" + i + "] must be a mapping {path, type}, got " + list.get(i));
            }
            Map<String, Object> entry = new java.util.LinkedHashMap<>();
            d.forEach((k, v) -> entry.put(String.valueOf(k), v));
            try {
                datasets.add(DatasetSpec.fromConfig(entry, i, dir));
            } catch (CrucibleException e) {
                throw new CrucibleException(file + ": " + e.getMessage(), e);
            }
        }
        String template = r.string("chat_template", null);
        if (template != null && template.endsWith(".jinja") && !Path.of(template).isAbsolute()) {
            template = dir.resolve(template).toString(); // template files, like datasets, are relative to the config
        }
        String base = r.string("base_model", null);
        if (base == null) {
            throw new CrucibleException(file + ": 'base_model' (a local model directory) is required");
        }
        String resume = r.string("resume_from_checkpoint", null);
        return new SftConfig(dir.resolve(base).normalize(), datasets, template, r.integer("sequence_len", 2048),
                r.bool("sample_packing", false),
                adapter.equals("none") ? "full" : adapter, r.integer("lora_r", 8), r.number("lora_alpha", 16),
                r.number("lora_dropout", 0), targets, r.bool("peft_use_rslora", false), r.integer("micro_batch_size", 1),
                r.integer("gradient_accumulation_steps", 1), r.number("num_epochs", 1), r.integer("max_steps", 0),
                r.number("learning_rate", 2e-4), r.string("lr_scheduler", "cosine"), r.integer("warmup_steps", 0),
                r.number("warmup_ratio", 0), r.number("weight_decay", 0), r.number("max_grad_norm", 1.0),
                r.bool("gradient_checkpointing", false), r.bool("train_on_inputs", false), r.number("val_set_size", 0),
                r.integer("seed", 42), dir.resolve(r.string("output_dir", "outputs")).normalize(), r.integer("save_steps", 0),
                r.integer("eval_steps", 0), resume == null ? null : dir.resolve(resume));
    }

    /**
     * The training method from Axolotl's keys: {@code load_in_4bit} puts a LoRA or DoRA adapter over an NF4 base
     * (as {@code adapter: qlora} does), {@code peft_use_dora} makes a LoRA or QLoRA adapter DoRA; both together are
     * QDoRA ("qdora"). Full fine-tuning takes neither.
     */
    private static String method(Path file, String adapter, boolean fourBit, boolean useDora) {
        boolean full = adapter.equals("none") || adapter.equals("full");
        if (full && (fourBit || useDora)) {
            throw new CrucibleException(file + ": '" + (fourBit ? "load_in_4bit" : "peft_use_dora")
                    + "' needs an adapter (adapter: lora, qlora or dora); full fine-tuning trains the float weights");
        }
        if (full) {
            return "none";
        }
        boolean nf4 = fourBit || adapter.equals("qlora");
        boolean dora = useDora || adapter.equals("dora");
        return nf4 ? (dora ? "qdora" : "qlora") : (dora ? "dora" : "lora");
    }

    /** Typed access to the YAML values, with errors naming the key and what was expected. */
    private record Reader(Path file, Map<?, ?> map) {
        String string(String key, String fallback) {
            Object v = map.get(key);
            return v == null ? fallback : String.valueOf(v);
        }

        int integer(String key, int fallback) {
            Object v = map.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
                return n.intValue();
            }
            throw new CrucibleException(file + ": '" + key + "' must be an integer, got " + v);
        }

        double number(String key, double fallback) {
            Object v = map.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Number n) {
                return n.doubleValue();
            }
            try {
                return Double.parseDouble(String.valueOf(v)); // YAML 1.2 reads 2e-4 as a string
            } catch (NumberFormatException e) {
                throw new CrucibleException(file + ": '" + key + "' must be a number, got " + v);
            }
        }

        boolean bool(String key, boolean fallback) {
            Object v = map.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Boolean b) {
                return b;
            }
            throw new CrucibleException(file + ": '" + key + "' must be true or false, got " + v);
        }

        List<String> strings(String key) {
            Object v = map.get(key);
            if (v == null) {
                return List.of();
            }
            if (v instanceof List<?> l) {
                return l.stream().map(String::valueOf).toList();
            }
            return List.of(String.valueOf(v));
        }
    }
}
