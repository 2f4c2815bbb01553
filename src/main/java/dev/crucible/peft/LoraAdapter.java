package dev.crucible.peft;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LoRA/rsLoRA/DoRA adapter as a PEFT directory holds it: {@code adapter_config.json} and
 * {@code adapter_model.safetensors}. Tensor names are PEFT's saved names, {@code base_model.model.<module>.lora_A.weight},
 * {@code .lora_B.weight} and (DoRA) {@code .lora_magnitude_vector}; PEFT's in-memory names, which carry the adapter
 * name ({@code .lora_A.default.weight}), are accepted on load too. The modules of {@code modules_to_save} are held
 * whole, under PEFT's saved names {@code base_model.model.<module>.weight} (and {@code .bias}).
 */
public final class LoraAdapter {
    public static final String WEIGHTS_FILE = AdapterFile.WEIGHTS_FILE;
    public static final String PREFIX = "base_model.model.";
    static final String BIAS_SUFFIX = ".lora_B.bias";

    /** The kinds of adapter tensor, with their saved and in-memory (adapter "default") name suffixes. */
    public enum Part {
        A(".lora_A.weight", ".lora_A.default.weight"),
        B(".lora_B.weight", ".lora_B.default.weight"),
        MAGNITUDE(".lora_magnitude_vector", ".lora_magnitude_vector.default.weight"),
        /** An embedding's factors are parameters, not modules: no {@code .weight}. */
        EMBEDDING_A(".lora_embedding_A", ".lora_embedding_A.default"),
        EMBEDDING_B(".lora_embedding_B", ".lora_embedding_B.default");

        private final String savedSuffix;
        private final String inMemorySuffix;

        Part(String savedSuffix, String inMemorySuffix) {
            this.savedSuffix = savedSuffix;
            this.inMemorySuffix = inMemorySuffix;
        }

        /** The name as messages give it: {@code lora_A}, {@code lora_embedding_B}, ... */
        String label() {
            String s = savedSuffix.substring(1);
            return s.endsWith(".weight") ? s.substring(0, s.length() - ".weight".length()) : s;
        }
    }

    /** A tensor of a {@code modules_to_save} module, trained in full: float32 values and shape. */
    public record SavedTensor(float[] values, long[] shape) {
    }

    private final LoraConfig config;
    private final Map<String, LoraModule> modules;
    private final Map<String, SavedTensor> savedTensors;

    public LoraAdapter(LoraConfig config, Map<String, LoraModule> modules) {
        this(config, modules, Map.of());
    }

    public LoraAdapter(LoraConfig config, Map<String, LoraModule> modules, Map<String, SavedTensor> savedTensors) {
        this.config = config;
        this.modules = Collections.unmodifiableMap(new LinkedHashMap<>(modules));
        this.savedTensors = Collections.unmodifiableMap(new TreeMap<>(savedTensors));
    }

    public LoraConfig config() {
        return config;
    }

    /** Adapted modules by path in the base model ({@code model.layers.0.self_attn.q_proj}), in layer order. */
    public Map<String, LoraModule> modules() {
        return modules;
    }

    /**
     * The whole tensors of the {@code modules_to_save} modules by their name in the base model ({@code lm_head.weight}),
     * which replace the base's tensors of that name.
     */
    public Map<String, SavedTensor> savedTensors() {
        return savedTensors;
    }

    /** PEFT's in-memory name of a {@code modules_to_save} tensor ({@code base_model.model.lm_head.modules_to_save.default.weight}). */
    public static String savedTensorParameterName(String tensorName) {
        int dot = tensorName.lastIndexOf('.');
        return PREFIX + tensorName.substring(0, dot) + ".modules_to_save.default" + tensorName.substring(dot);
    }

    /** PEFT's saved tensor name, e.g. {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}. */
    public static String savedName(String modulePath, Part part) {
        return PREFIX + modulePath + part.savedSuffix;
    }

    /**
     * The name of a LoRA bias ({@code lora_B.bias}): PEFT has one only with {@code lora_bias}, which Crucible does not
     * support; mergekit's extract-lora writes a biased layer's bias delta there even without it.
     */
    public static String savedBiasName(String modulePath) {
        return PREFIX + modulePath + BIAS_SUFFIX;
    }

    /** PEFT's in-memory parameter name (as {@code named_parameters()} reports it, adapter "default"). */
    public static String parameterName(String modulePath, Part part) {
        return PREFIX + modulePath + part.inMemorySuffix;
    }

    /**
     * Reads a PEFT adapter directory into memory (through {@link AdapterFile}, which checks it), for training to
     * continue: linear-layer LoRA, DoRA and {@code modules_to_save}; embedding factors can be folded but not trained.
     */
    public static LoraAdapter load(Path dir) {
        return load(dir, null);
    }

    /** As {@link #load(Path)}, first checking the adapter against the base it is to train on (null: no check). */
    public static LoraAdapter load(Path dir, Checkpoint base) {
        try (AdapterFile file = AdapterFile.open(dir)) {
            if (base != null) {
                file.checkAgainst(base);
            }
            Map<String, LoraModule> modules = new LinkedHashMap<>();
            for (AdapterFile.Module m : file.modules().values()) {
                if (m.embedding()) {
                    throw new CrucibleException(file.file() + ": module '" + m.path() + "' has embedding LoRA factors"
                            + " (lora_embedding_A/B), which lora merge and merges fold but training cannot continue");
                }
                long[] b = file.info(m.b()).shape();
                long[] a = file.info(m.a()).shape();
                modules.put(m.path(), new LoraModule(m.path(), (int) a[1], (int) b[0], m.rank(), m.scaling(),
                        file.tensor(m.a()).toFloatArray(), file.tensor(m.b()).toFloatArray(),
                        m.magnitude() == null ? null : file.tensor(m.magnitude()).toFloatArray()));
            }
            Map<String, SavedTensor> saved = new TreeMap<>();
            file.savedTensors().forEach((name, inFile) -> saved.put(name,
                    new SavedTensor(file.tensor(inFile).toFloatArray(), file.info(inFile).shape())));
            return new LoraAdapter(file.config(), modules, saved);
        }
    }

    /** What an adapter tensor name means: the module path and the kind of tensor. */
    record Parsed(String module, Part part) {
    }

    /** Module path and part of an adapter factor or magnitude name (saved or in-memory form), or null. */
    static Parsed parse(String name) {
        if (!name.startsWith(PREFIX)) {
            return null;
        }
        for (Part p : Part.values()) {
            for (String suffix : List.of(p.savedSuffix, p.inMemorySuffix)) {
                if (name.endsWith(suffix) && name.length() > PREFIX.length() + suffix.length()) {
                    return new Parsed(name.substring(PREFIX.length(), name.length() - suffix.length()), p);
                }
            }
        }
        return null;
    }

    /** The same adapter whose config names {@code baseModelNameOrPath} as its base. */
    public LoraAdapter withBaseModel(String baseModelNameOrPath) {
        return new LoraAdapter(config.forSaving(modules.keySet(), baseModelNameOrPath), modules, savedTensors);
    }

    /** Names, in file order (sorted, as safetensors' Python writer orders same-dtype tensors), and values. */
    private Map<String, Tensor> tensors() {
        Map<String, Tensor> out = new TreeMap<>();
        for (LoraModule m : modules.values()) {
            out.put(savedName(m.path(), Part.A), Tensor.ofFloats(m.a(), m.r(), m.in()));
            out.put(savedName(m.path(), Part.B), Tensor.ofFloats(m.b(), m.out(), m.r()));
            if (m.isDora()) {
                out.put(savedName(m.path(), Part.MAGNITUDE), Tensor.ofFloats(m.magnitude(), m.out()));
            }
        }
        savedTensors.forEach((name, t) -> out.put(PREFIX + name, Tensor.ofFloats(t.values(), t.shape())));
        return out;
    }

    /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} (float32) into an existing directory. */
    public void writeTo(Path dir) {
        write(dir, config, tensors());
    }

    /**
     * The one writer of an adapter directory's two files, for adapters that are not held as float arrays (extract-lora
     * writes its factors in the model's dtype): {@code tensors} by their name in the file ({@link #savedName}, or
     * {@link #PREFIX} + a {@code modules_to_save} tensor's name), written in name order as safetensors' Python writer
     * orders same-dtype tensors.
     */
    public static void write(Path dir, LoraConfig config, Map<String, Tensor> tensors) {
        SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), new TreeMap<>(tensors));
        config.write(dir);
    }

    /** Saves to {@code target} through a staging directory, so a failure leaves no half-written adapter. */
    public void save(Path target) {
        try (StagedDirectory staged = StagedDirectory.create(target)) {
            writeTo(staged.path());
            staged.publish();
        }
    }
}
