package dev.crucible.peft;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.TensorInfo;
import dev.crucible.arch.Architecture;
import dev.crucible.peft.LoraAdapter.Part;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A PEFT adapter directory opened for reading: the one reader of {@code adapter_config.json} (through
 * {@link LoraConfig}) and {@code adapter_model.safetensors}. Every tensor name is parsed and checked here, once,
 * whoever reads the adapter (training, {@code lora merge}, {@code model+adapter} merges, {@code generate --adapter}):
 * LoRA factors of linear layers and embeddings (PEFT's saved names, and its in-memory names with the adapter name
 * {@code default}), DoRA magnitudes, and the whole tensors of {@code modules_to_save}. The tensors stay
 * memory-mapped until asked for, so a merge never holds a whole adapter in memory.
 * <p>
 * As PEFT builds LoRA layers only on the modules {@code target_modules} names, factors of other modules are left
 * out (listed by {@link #untargeted()}, as PEFT reports unexpected keys), never folded; so are {@code lora_B.bias}
 * tensors (PEFT reads them only with {@code lora_bias}, which {@link LoraConfig} refuses), which mergekit's
 * extract-lora writes for layers with a bias.
 */
public final class AdapterFile implements AutoCloseable {
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    /** Layer number first (so layer 10 follows layer 9), then name: the order modules are listed and saved in. */
    public static final Comparator<String> BY_LAYER =
            Comparator.comparingInt(Architecture::layerOf).thenComparing(Comparator.naturalOrder());

    /**
     * One adapted module: the file's names of its factors ({@code a} [r, in], {@code b} [out, r]; for an embedding
     * {@code a} [r, vocab], {@code b} [hidden, r]) and DoRA magnitude (null without DoRA), and its scaling.
     */
    public record Module(String path, boolean embedding, String a, String b, String magnitude, int rank,
                         double scaling) {
        public boolean isDora() {
            return magnitude != null;
        }
    }

    private final Path directory;
    private final Path file;
    private final LoraConfig config;
    private final SafetensorsFile weights;
    private final Map<String, Module> modules;
    private final Map<String, String> savedTensors;
    private final List<String> untargeted;
    private final List<String> biases;

    private AdapterFile(Path directory, Path file, LoraConfig config, SafetensorsFile weights,
                        Map<String, Module> modules, Map<String, String> savedTensors, List<String> untargeted,
                        List<String> biases) {
        this.directory = directory;
        this.file = file;
        this.config = config;
        this.weights = weights;
        this.modules = Collections.unmodifiableMap(modules);
        this.savedTensors = Collections.unmodifiableMap(savedTensors);
        this.untargeted = List.copyOf(untargeted);
        this.biases = List.copyOf(biases);
    }

    /** Opens and checks an adapter directory; errors name the file and the tensor or key. */
    public static AdapterFile open(Path dir) {
        LoraConfig config = LoraConfig.read(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CrucibleException(dir + ": no " + WEIGHTS_FILE
                    + (Files.exists(dir.resolve("adapter_model.bin")) ? " (adapter_model.bin is not read; convert it to safetensors)" : ""));
        }
        SafetensorsFile weights = SafetensorsFile.open(file);
        try {
            Map<String, Map<Part, String>> parts = new TreeMap<>(BY_LAYER);
            Map<String, String> saved = new TreeMap<>();
            List<String> biases = new ArrayList<>();
            for (String name : weights.tensors().keySet()) {
                TensorInfo info = weights.info(name);
                if (!info.dtype().isFloatingPoint()) {
                    throw new CrucibleException(file + ": tensor '" + name + "' has dtype " + info.dtype()
                            + ", expected a float type");
                }
                if (name.startsWith(LoraAdapter.PREFIX) && name.endsWith(LoraAdapter.BIAS_SUFFIX)) {
                    biases.add(name);
                    continue;
                }
                LoraAdapter.Parsed parsed = LoraAdapter.parse(name);
                if (parsed != null) {
                    if (parts.computeIfAbsent(parsed.module(), k -> new EnumMap<>(Part.class)).put(parsed.part(), name) != null) {
                        throw new CrucibleException(file + ": tensor '" + name + "' appears twice (saved and in-memory names)");
                    }
                    continue;
                }
                String base = savedTensorName(name, config);
                if (base == null) {
                    throw new CrucibleException(file + ": tensor '" + name + "' is not a LoRA A/B, embedding LoRA or DoRA"
                            + " magnitude tensor (expected base_model.model.<module>.lora_A.weight, .lora_B.weight,"
                            + " .lora_embedding_A/B or .lora_magnitude_vector) nor a tensor of modules_to_save "
                            + config.modulesToSave());
                }
                if (saved.put(base, name) != null) {
                    throw new CrucibleException(file + ": tensor '" + name + "' appears twice (saved and in-memory names)");
                }
            }
            if (parts.isEmpty() && saved.isEmpty()) {
                throw new CrucibleException(file + ": holds no adapter tensors");
            }
            Map<String, Module> modules = new LinkedHashMap<>();
            List<String> untargeted = new ArrayList<>();
            for (Map.Entry<String, Map<Part, String>> e : parts.entrySet()) {
                Module m = module(file, weights, config, e.getKey(), e.getValue());
                if (config.targets(m.path())) {
                    modules.put(m.path(), m);
                } else {
                    untargeted.add(m.path());
                }
            }
            return new AdapterFile(dir, file, config, weights, modules, saved, untargeted, biases);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** Checks one module's tensors against each other and the config's rank, DoRA setting and patterns. */
    private static Module module(Path file, SafetensorsFile weights, LoraConfig config, String path,
                                 Map<Part, String> names) {
        boolean embedding = names.containsKey(Part.EMBEDDING_A) || names.containsKey(Part.EMBEDDING_B);
        Part partA = embedding ? Part.EMBEDDING_A : Part.A;
        Part partB = embedding ? Part.EMBEDDING_B : Part.B;
        if (embedding && (names.containsKey(Part.A) || names.containsKey(Part.B))) {
            throw new CrucibleException(file + ": module '" + path + "' has both linear (lora_A/B) and embedding"
                    + " (lora_embedding_A/B) factors");
        }
        String a = names.get(partA);
        String b = names.get(partB);
        if (a == null || b == null) {
            throw new CrucibleException(file + ": module '" + path + "' has " + (a == null ? "no " : "only ")
                    + partA.label() + (a == null ? "" : ", no " + partB.label())
                    + " tensor; every adapted module needs both");
        }
        long[] as = weights.info(a).shape();
        long[] bs = weights.info(b).shape();
        int r = config.rank(path);
        if (as.length != 2 || bs.length != 2 || as[0] != r || bs[1] != r) {
            throw new CrucibleException(file + ": module '" + path + "' has " + partA.label() + " " + Shape.toString(as)
                    + " and " + partB.label() + " " + Shape.toString(bs) + ", expected [" + r + ", in] and [out, " + r
                    + "] (r=" + r + ")");
        }
        String magnitude = names.get(Part.MAGNITUDE);
        if (embedding && magnitude != null) {
            throw new CrucibleException(file + ": module '" + path + "' has DoRA on an embedding, which Crucible does"
                    + " not support");
        }
        if (!embedding && config.useDora() != (magnitude != null)) {
            throw new CrucibleException(file + ": module '" + path + "' " + (magnitude == null
                    ? "has no lora_magnitude_vector but the config sets use_dora"
                    : "has a lora_magnitude_vector but the config does not set use_dora"));
        }
        if (magnitude != null) {
            long[] ms = weights.info(magnitude).shape();
            if (ms.length != 1 || ms[0] != bs[0]) {
                throw new CrucibleException(file + ": module '" + path + "' has lora_magnitude_vector "
                        + Shape.toString(ms) + ", expected [" + bs[0] + "] (lora_B's rows)");
            }
        }
        return new Module(path, embedding, a, b, magnitude, r, config.scaling(path));
    }

    /**
     * The base-model name of a {@code modules_to_save} tensor saved as {@code base_model.model.<module>.<param>} (or
     * under PEFT's in-memory name {@code <module>.modules_to_save.default.<param>}), or null when {@code name} is not one.
     */
    private static String savedTensorName(String name, LoraConfig config) {
        if (!name.startsWith(LoraAdapter.PREFIX)) {
            return null;
        }
        String rest = name.substring(LoraAdapter.PREFIX.length()).replace(".modules_to_save.default.", ".");
        int dot = rest.lastIndexOf('.');
        return dot > 0 && config.savesModule(rest.substring(0, dot)) ? rest : null;
    }

    public Path directory() {
        return directory;
    }

    /** {@code adapter_model.safetensors}, for messages. */
    public Path file() {
        return file;
    }

    public LoraConfig config() {
        return config;
    }

    /** The targeted adapted modules by path in the base model ({@code model.layers.0.self_attn.q_proj}), in layer order. */
    public Map<String, Module> modules() {
        return modules;
    }

    /** The {@code modules_to_save} tensors: name in the base model ({@code lm_head.weight}) to name in the file. */
    public Map<String, String> savedTensors() {
        return savedTensors;
    }

    /** Modules with factors in the file that {@code target_modules} does not name (left out, as PEFT leaves them). */
    public List<String> untargeted() {
        return untargeted;
    }

    /**
     * One warning line naming what the file holds but the adapter leaves out (untargeted modules, lora_B.bias
     * tensors), or null when nothing is left out.
     */
    public String leftOutWarning() {
        List<String> parts = new ArrayList<>();
        if (!untargeted.isEmpty()) {
            parts.add(untargeted.size() + " module(s) with LoRA factors that target_modules "
                    + config.json().get("target_modules") + " does not name, " + abbreviated(untargeted));
        }
        if (!biases.isEmpty()) {
            parts.add(biases.size() + " lora_B.bias tensor(s) (read by PEFT only with lora_bias), " + abbreviated(biases));
        }
        return parts.isEmpty() ? null
                : "warning: " + file + ": left out, as PEFT leaves them: " + String.join("; ", parts);
    }

    private static String abbreviated(List<String> names) {
        return (names.size() <= 3 ? names : names.subList(0, 3) + " ...").toString();
    }

    /**
     * Checks, before any work, that every tensor the adapter changes exists in {@code base} with the shape the adapter
     * expects (a wrong base is an error naming the tensor, not a wrong result).
     */
    public void checkAgainst(Checkpoint base) {
        for (Map.Entry<String, String> e : savedTensors.entrySet()) {
            if (!base.contains(e.getKey())) {
                throw new CrucibleException(base.directory() + ": has no tensor '" + e.getKey() + "', which the adapter"
                        + " saves whole (modules_to_save; is this the adapter's base model?)");
            }
            long[] shape = base.info(e.getKey()).shape();
            long[] copy = info(e.getValue()).shape();
            if (!Arrays.equals(shape, copy)) {
                throw new CrucibleException(base.directory() + ": tensor '" + e.getKey() + "' is " + Shape.toString(shape)
                        + " but the adapter's modules_to_save copy is " + Shape.toString(copy));
            }
        }
        for (Module m : modules.values()) {
            String name = m.path() + ".weight";
            if (!base.contains(name)) {
                throw new CrucibleException(base.directory() + ": has no tensor '" + name + "', which the adapter's module '"
                        + m.path() + "' adapts (is this the adapter's base model?)");
            }
            long[] shape = base.info(name).shape();
            long[] expected = expectedShape(m);
            if (!Arrays.equals(shape, expected)) {
                throw new CrucibleException(base.directory() + ": tensor '" + name + "' is " + Shape.toString(shape)
                        + " but the adapter expects " + Shape.toString(expected));
            }
        }
    }

    /** The base weight's shape a module fits: [out, in] for a linear layer, [vocab, hidden] for an embedding. */
    long[] expectedShape(Module m) {
        long[] a = info(m.a()).shape();
        long[] b = info(m.b()).shape();
        return new long[]{m.embedding() ? a[1] : b[0], m.embedding() ? b[0] : a[1]};
    }

    /** A tensor of the file by its name there (memory-mapped). */
    public Tensor tensor(String nameInFile) {
        return weights.tensor(nameInFile);
    }

    public TensorInfo info(String nameInFile) {
        return weights.info(nameInFile);
    }

    @Override
    public void close() {
        weights.close();
    }
}
