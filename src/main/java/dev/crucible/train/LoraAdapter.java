package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.nn.FrozenWeight;
import dev.crucible.nn.LinearLayers;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A LoRA/rsLoRA/DoRA adapter as a PEFT directory holds it: {@code adapter_config.json} and
 * {@code adapter_model.safetensors}. Tensor names are PEFT's saved names, {@code base_model.model.<module>.lora_A.weight},
 * {@code .lora_B.weight} and (DoRA) {@code .lora_magnitude_vector}; PEFT's in-memory names, which carry the adapter
 * name ({@code .lora_A.default.weight}), are accepted on load too. The modules of {@code modules_to_save} are held
 * whole, under PEFT's saved names {@code base_model.model.<module>.weight} (and {@code .bias}).
 */
public final class LoraAdapter {
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String PREFIX = "base_model.model.";

    /** The three kinds of adapter tensor, with their saved and in-memory (adapter "default") name suffixes. */
    public enum Part {
        A(".lora_A.weight", ".lora_A.default.weight"),
        B(".lora_B.weight", ".lora_B.default.weight"),
        MAGNITUDE(".lora_magnitude_vector", ".lora_magnitude_vector.default.weight");

        private final String savedSuffix;
        private final String inMemorySuffix;

        Part(String savedSuffix, String inMemorySuffix) {
            this.savedSuffix = savedSuffix;
            this.inMemorySuffix = inMemorySuffix;
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

    /** PEFT's in-memory parameter name (as {@code named_parameters()} reports it, adapter "default"). */
    public static String parameterName(String modulePath, Part part) {
        return PREFIX + modulePath + part.inMemorySuffix;
    }

    /** Reads a PEFT adapter directory; shapes are checked against the config's ranks. */
    public static LoraAdapter load(Path dir) {
        LoraConfig config = LoraConfig.read(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CrucibleException(dir + ": no " + WEIGHTS_FILE
                    + (Files.exists(dir.resolve("adapter_model.bin")) ? " (adapter_model.bin is not read; convert it to safetensors)" : ""));
        }
        Map<String, ModuleTensors> parts = new TreeMap<>(LinearLayers.BY_LAYER);
        Map<String, SavedTensor> saved = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(file)) {
            for (String name : sf.tensors().keySet()) {
                Object[] parsed = parse(name);
                String savedName = parsed == null ? savedTensorName(name, config) : null;
                if (savedName != null) {
                    if (saved.put(savedName, new SavedTensor(sf.tensor(name).toFloatArray(), sf.info(name).shape())) != null) {
                        throw new CrucibleException(file + ": tensor '" + name + "' appears twice (saved and in-memory names)");
                    }
                    continue;
                }
                if (parsed == null) {
                    throw new CrucibleException(file + ": tensor '" + name + "' is not a LoRA A/B or DoRA magnitude"
                            + " tensor (expected base_model.model.<module>.lora_A.weight, .lora_B.weight or"
                            + " .lora_magnitude_vector) nor a tensor of modules_to_save " + config.modulesToSave());
                }
                String module = (String) parsed[0];
                Part part = (Part) parsed[1];
                TensorInfo info = sf.info(name);
                if (!info.dtype().isFloatingPoint()) {
                    throw new CrucibleException(file + ": tensor '" + name + "' has dtype " + info.dtype() + ", expected a float type");
                }
                ModuleTensors h = parts.computeIfAbsent(module, k -> new ModuleTensors());
                if (h.values[part.ordinal()] != null) {
                    throw new CrucibleException(file + ": tensor '" + name + "' appears twice (saved and in-memory names)");
                }
                h.values[part.ordinal()] = sf.tensor(name).toFloatArray();
                h.shapes[part.ordinal()] = info.shape();
            }
        }
        if (parts.isEmpty() && saved.isEmpty()) {
            throw new CrucibleException(file + ": holds no adapter tensors");
        }
        Map<String, LoraModule> modules = new LinkedHashMap<>();
        for (Map.Entry<String, ModuleTensors> e : parts.entrySet()) {
            modules.put(e.getKey(), e.getValue().toModule(file, e.getKey(), config));
        }
        return new LoraAdapter(config, modules, saved);
    }

    /**
     * The base-model name of a {@code modules_to_save} tensor saved as {@code base_model.model.<module>.<param>} (or
     * under PEFT's in-memory name {@code <module>.modules_to_save.default.<param>}), or null when {@code name} is not one.
     */
    private static String savedTensorName(String name, LoraConfig config) {
        if (!name.startsWith(PREFIX)) {
            return null;
        }
        String rest = name.substring(PREFIX.length()).replace(".modules_to_save.default.", ".");
        int dot = rest.lastIndexOf('.');
        return dot > 0 && config.savesModule(rest.substring(0, dot)) ? rest : null;
    }

    /** Module path and part of an adapter tensor name, or null when the name is not one. */
    private static Object[] parse(String name) {
        if (!name.startsWith(PREFIX)) {
            return null;
        }
        for (Part p : Part.values()) {
            for (String suffix : List.of(p.savedSuffix, p.inMemorySuffix)) {
                if (name.endsWith(suffix) && name.length() > PREFIX.length() + suffix.length()) {
                    return new Object[]{name.substring(PREFIX.length(), name.length() - suffix.length()), p};
                }
            }
        }
        return null;
    }

    private static final class ModuleTensors {
        final float[][] values = new float[Part.values().length][];
        final long[][] shapes = new long[Part.values().length][];

        LoraModule toModule(Path file, String module, LoraConfig config) {
            long[] a = shapes[Part.A.ordinal()];
            long[] b = shapes[Part.B.ordinal()];
            long[] m = shapes[Part.MAGNITUDE.ordinal()];
            if (a == null || b == null) {
                throw new CrucibleException(file + ": module '" + module + "' has " + (a == null ? "no lora_A" : "no lora_B")
                        + " tensor; every adapted module needs both");
            }
            int r = config.rank(module);
            if (a.length != 2 || b.length != 2 || a[0] != r || b[1] != r) {
                throw new CrucibleException(file + ": module '" + module + "' has lora_A " + Shape.toString(a)
                        + " and lora_B " + Shape.toString(b) + ", expected [" + r + ", in] and [out, " + r + "] (r=" + r + ")");
            }
            if (config.useDora() != (m != null)) {
                throw new CrucibleException(file + ": module '" + module + "' " + (m == null
                        ? "has no lora_magnitude_vector but the config sets use_dora"
                        : "has a lora_magnitude_vector but the config does not set use_dora"));
            }
            if (m != null && (m.length != 1 || m[0] != b[0])) {
                throw new CrucibleException(file + ": module '" + module + "' has lora_magnitude_vector " + Shape.toString(m)
                        + ", expected [" + b[0] + "]");
            }
            return new LoraModule(module, (int) a[1], (int) b[0], r, config.scaling(module), values[Part.A.ordinal()],
                    values[Part.B.ordinal()], values[Part.MAGNITUDE.ordinal()]);
        }
    }

    /**
     * A fresh adapter on every linear layer of {@code base} that the config targets, initialised as PEFT does with
     * {@code init_lora_weights=True}: A Kaiming-uniform (a=sqrt(5), so U(-1/sqrt(in), 1/sqrt(in))), B zero, and for
     * DoRA the magnitude set to the row norms of W so that the adapted layer starts equal to the base.
     */
    public static LoraAdapter create(LoraConfig config, Checkpoint base, long seed) {
        return create(config, base, seed, Map.of());
    }

    /**
     * As {@link #create(LoraConfig, Checkpoint, long)}, where the layers in {@code frozen} (QLoRA's NF4 base, by module
     * path) take DoRA's magnitude from that weight, as PEFT takes it from the dequantised 4-bit weight.
     */
    public static LoraAdapter create(LoraConfig config, Checkpoint base, long seed, Map<String, FrozenWeight> frozen) {
        List<String> linear = LinearLayers.inDecoderLayers(base);
        List<String> chosen = linear.stream().filter(config::targets).toList();
        if (chosen.isEmpty()) {
            String names = linear.stream().map(p -> p.substring(p.lastIndexOf('.') + 1)).distinct().toList().toString();
            throw new CrucibleException("target_modules " + (config.allLinear() ? "all-linear" : config.targetModules())
                    + " match no linear layer of " + base.directory() + "; its linear layers are " + names);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, LoraModule> modules = new LinkedHashMap<>();
        for (String path : chosen) {
            long[] shape = base.info(path + ".weight").shape();
            int out = Math.toIntExact(shape[0]);
            int in = Math.toIntExact(shape[1]);
            int r = config.rank(path);
            float[] a = new float[r * in];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            float[] magnitude = null;
            if (config.useDora()) {
                FrozenWeight w = frozen.get(path);
                Tensor t = w == null ? base.tensor(path + ".weight") : null;
                magnitude = rowNorms(out, in, w != null ? w::row : (o, row) -> t.readFloats((long) o * in, row, 0, in));
            }
            modules.put(path, new LoraModule(path, in, out, r, config.scaling(path), a, new float[out * r], magnitude));
        }
        return new LoraAdapter(config.forSaving(chosen, null), modules, modulesToSave(config, base, chosen));
    }

    /**
     * Copies of the base's tensors in the modules that {@code modules_to_save} names (PEFT's suffix match on module
     * paths), checked to overlap no LoRA target and, for the embeddings or head, not to be tied.
     */
    private static Map<String, SavedTensor> modulesToSave(LoraConfig config, Checkpoint base, List<String> loraModules) {
        Map<String, SavedTensor> out = new TreeMap<>();
        if (config.modulesToSave().isEmpty()) {
            return out;
        }
        java.util.Set<String> matched = new java.util.TreeSet<>();
        for (String name : base.names()) {
            String module = savedModuleOf(name, config);
            if (module == null) {
                continue;
            }
            for (String lora : loraModules) {
                if (lora.equals(module) || lora.startsWith(module + ".")) {
                    throw new CrucibleException("modules_to_save " + config.modulesToSave() + " takes '" + module
                            + "', which also has a LoRA adapter (" + lora + "); a module is trained either way, not both");
                }
            }
            matched.add(module);
            out.put(name, new SavedTensor(base.tensor(name).toFloatArray(), base.info(name).shape()));
        }
        for (String want : config.modulesToSave()) {
            if (matched.stream().noneMatch(m -> m.endsWith(want))) {
                throw new CrucibleException("modules_to_save: '" + want + "' matches no module of " + base.directory()
                        + " (e.g. lm_head, model.embed_tokens)");
            }
        }
        boolean embed = out.containsKey("model.embed_tokens.weight");
        if ((embed || out.containsKey("lm_head.weight")) && !base.contains("lm_head.weight")) {
            throw new CrucibleException("modules_to_save " + config.modulesToSave() + ": " + base.directory()
                    + " ties lm_head to embed_tokens; training one of them alone would untie them, which Crucible does"
                    + " not support");
        }
        return out;
    }

    /** The module of tensor {@code name} (or of a parent module) that {@code modules_to_save} names, else null. */
    private static String savedModuleOf(String name, LoraConfig config) {
        for (int dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
            if (config.savesModule(name.substring(0, dot))) {
                return name.substring(0, dot);
            }
        }
        return null;
    }

    /** Reads row {@code o} of a weight into {@code row}. */
    private interface RowReader {
        void read(int o, float[] row);
    }

    private static float[] rowNorms(int out, int in, RowReader rows) {
        float[] row = new float[in];
        float[] norms = new float[out];
        for (int o = 0; o < out; o++) {
            rows.read(o, row);
            double sq = 0;
            for (float v : row) {
                sq += (double) v * v;
            }
            norms[o] = (float) Math.sqrt(sq);
        }
        return norms;
    }

    /** The same adapter whose config names {@code baseModelNameOrPath} as its base. */
    public LoraAdapter withBaseModel(String baseModelNameOrPath) {
        return new LoraAdapter(config.forSaving(modules.keySet(), baseModelNameOrPath), modules, savedTensors);
    }

    /**
     * Checks every adapted module exists in {@code base} with the [out, in] shape the adapter expects, and every
     * {@code modules_to_save} tensor with its shape.
     */
    public void checkAgainst(Checkpoint base) {
        for (Map.Entry<String, SavedTensor> e : savedTensors.entrySet()) {
            if (!base.contains(e.getKey())) {
                throw new CrucibleException(base.directory() + ": has no tensor '" + e.getKey() + "', which the adapter"
                        + " saves whole (modules_to_save; is this the adapter's base model?)");
            }
            long[] shape = base.info(e.getKey()).shape();
            if (!Arrays.equals(shape, e.getValue().shape())) {
                throw new CrucibleException(base.directory() + ": tensor '" + e.getKey() + "' is " + Shape.toString(shape)
                        + " but the adapter's modules_to_save copy is " + Shape.toString(e.getValue().shape()));
            }
        }
        for (LoraModule m : modules.values()) {
            String name = m.path() + ".weight";
            if (!base.contains(name)) {
                throw new CrucibleException(base.directory() + ": has no tensor '" + name + "', which the adapter's module '"
                        + m.path() + "' adapts (is this the adapter's base model?)");
            }
            long[] shape = base.info(name).shape();
            if (!Arrays.equals(shape, new long[]{m.out(), m.in()})) {
                throw new CrucibleException(base.directory() + ": tensor '" + name + "' is " + Shape.toString(shape)
                        + " but the adapter expects [" + m.out() + ", " + m.in() + "]");
            }
        }
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
        SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors());
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
