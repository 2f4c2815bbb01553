package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.autograd.FrozenWeight;
import dev.crucible.nn.LinearLayers;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraAdapter.SavedTensor;
import dev.crucible.peft.LoraConfig;
import dev.crucible.peft.LoraModule;
import dev.crucible.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A new adapter for training, as PEFT's {@code get_peft_model} makes it: LoRA factors on the linear layers the
 * config targets, initialised as PEFT initialises them, and copies of the {@code modules_to_save} tensors.
 */
public final class LoraInit {
    private LoraInit() {
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

}
