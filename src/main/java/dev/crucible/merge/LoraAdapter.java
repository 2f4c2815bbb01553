package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter applied on the fly to the weights it targets ({@code model+adapter} in a merge config):
 * {@code W + scale * B @ A} with {@code scale = lora_alpha / r} ({@code lora_alpha / sqrt(r)} for rsLoRA),
 * computed in float32 as PEFT's {@code merge_and_unload} does, so no merged copy of the model is ever written.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Pattern KEY = Pattern.compile("^base_model\\.model\\.(.+)\\.lora_([AB])(?:\\.[^.]+)?\\.weight$");

    private record Pair(String a, String b, double scale) {
    }

    private final Path directory;
    private final SafetensorsFile weights;
    private final Map<String, Pair> byTarget;
    private final boolean fanInFanOut;

    private LoraAdapter(Path directory, SafetensorsFile weights, Map<String, Pair> byTarget, boolean fanInFanOut) {
        this.directory = directory;
        this.weights = weights;
        this.byTarget = byTarget;
        this.fanInFanOut = fanInFanOut;
    }

    public static LoraAdapter open(Path dir) {
        Path cfgFile = dir.resolve("adapter_config.json");
        Path file = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(cfgFile) || !Files.isRegularFile(file)) {
            throw new CrucibleException(dir + ": not a PEFT adapter (needs adapter_config.json and "
                    + "adapter_model.safetensors)");
        }
        JsonNode cfg;
        try {
            cfg = new ObjectMapper().readTree(cfgFile.toFile());
        } catch (IOException e) {
            throw new CrucibleException(cfgFile + ": not valid JSON: " + e.getMessage(), e);
        }
        String type = cfg.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) {
            throw new CrucibleException(cfgFile + ": peft_type " + type + " cannot be applied on the fly (LORA only)");
        }
        if (cfg.path("use_dora").asBoolean(false)) {
            throw new CrucibleException(cfgFile + ": DoRA adapters cannot be applied on the fly; merge them first");
        }
        int r = cfg.path("r").asInt(0);
        if (r <= 0) {
            throw new CrucibleException(cfgFile + ": 'r' must be a positive integer");
        }
        double alpha = cfg.path("lora_alpha").asDouble(r);
        boolean rs = cfg.path("use_rslora").asBoolean(false);
        SafetensorsFile weights = SafetensorsFile.open(file);
        Map<String, String[]> pairs = new HashMap<>();
        for (String key : weights.tensors().keySet()) {
            Matcher m = KEY.matcher(key);
            if (!m.matches()) {
                weights.close();
                throw new CrucibleException(file + ": tensor '" + key + "' is not a LoRA A/B matrix (modules_to_save "
                        + "and other adapter kinds cannot be applied on the fly)");
            }
            pairs.computeIfAbsent(m.group(1), k -> new String[2])[m.group(2).equals("A") ? 0 : 1] = key;
        }
        Map<String, Pair> byTarget = new HashMap<>();
        for (Map.Entry<String, String[]> e : pairs.entrySet()) {
            if (e.getValue()[0] == null || e.getValue()[1] == null) {
                weights.close();
                throw new CrucibleException(file + ": module '" + e.getKey() + "' has only one of lora_A / lora_B");
            }
            int rank = pattern(cfg.path("rank_pattern"), e.getKey(), r);
            double a = pattern(cfg.path("alpha_pattern"), e.getKey(), alpha);
            double scale = rs ? a / Math.sqrt(rank) : a / rank;
            byTarget.put(e.getKey() + ".weight", new Pair(e.getValue()[0], e.getValue()[1], scale));
        }
        return new LoraAdapter(dir, weights, byTarget, cfg.path("fan_in_fan_out").asBoolean(false));
    }

    /** rank_pattern / alpha_pattern: keys match a module whose name ends with them (PEFT's rule for plain keys). */
    private static <T extends Number> T pattern(JsonNode patterns, String module, T fallback) {
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (module.equals(e.getKey()) || module.endsWith("." + e.getKey())) {
                @SuppressWarnings("unchecked")
                T v = (T) (fallback instanceof Integer ? (Number) e.getValue().asInt() : (Number) e.getValue().asDouble());
                return v;
            }
        }
        return fallback;
    }

    public boolean targets(String weightName) {
        return byTarget.containsKey(weightName);
    }

    /** {@code base} (a weight of the model) with this adapter's delta added, as float32 values. */
    public float[] apply(String weightName, Tensor base) {
        Pair p = byTarget.get(weightName);
        float[] w = base.toFloatArray();
        Tensor a = weights.tensor(p.a);
        Tensor b = weights.tensor(p.b);
        int rank = (int) a.dim(0);
        int in = (int) a.dim(1);
        int out = (int) b.dim(0);
        if (b.dim(1) != rank || (long) in * out != w.length) {
            throw new CrucibleException(directory + ": LoRA for '" + weightName + "' has A " + a + " and B " + b
                    + ", which do not fit the weight " + base);
        }
        float[] af = a.toFloatArray();
        float[] bf = b.toFloatArray();
        float scale = (float) p.scale;
        float[] row = new float[in];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, 0f);
            for (int k = 0; k < rank; k++) {
                float bk = bf[o * rank + k];
                int off = k * in;
                for (int i = 0; i < in; i++) {
                    row[i] += bk * af[off + i];
                }
            }
            for (int i = 0; i < in; i++) {
                int idx = fanInFanOut ? i * out + o : o * in + i;
                w[idx] += row[i] * scale;
            }
        }
        return w;
    }

    @Override
    public void close() {
        weights.close();
    }
}
