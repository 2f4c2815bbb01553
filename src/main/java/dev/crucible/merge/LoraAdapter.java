package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA / rsLoRA / DoRA adapter applied on the fly to the weights it targets ({@code model+adapter} in a merge
 * config): each targeted weight is folded by {@link LoraFold} as PEFT's {@code merge_and_unload} does, so no merged
 * copy of the model is ever written.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Pattern KEY = Pattern.compile("^base_model\\.model\\.(.+)\\.lora_([AB])(?:\\.[^.]+)?\\.weight$");
    /** DoRA's magnitude: saved as {@code .lora_magnitude_vector}, in memory as {@code .lora_magnitude_vector.<adapter>.weight}. */
    private static final Pattern MAGNITUDE = Pattern.compile("^base_model\\.model\\.(.+)\\.lora_magnitude_vector(?:\\.[^.]+\\.weight)?$");

    /** The tensor names of one module's A, B and (DoRA) magnitude. */
    private record Module(String a, String b, String magnitude, double scale) {
    }

    private final Path directory;
    private final SafetensorsFile weights;
    private final Map<String, Module> byTarget;
    private final boolean fanInFanOut;

    private LoraAdapter(Path directory, SafetensorsFile weights, Map<String, Module> byTarget, boolean fanInFanOut) {
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
        int r = cfg.path("r").asInt(0);
        if (r <= 0) {
            throw new CrucibleException(cfgFile + ": 'r' must be a positive integer");
        }
        SafetensorsFile weights = SafetensorsFile.open(file);
        try {
            Map<String, Module> byTarget = modules(file, weights, cfg, r);
            return new LoraAdapter(dir, weights, byTarget, cfg.path("fan_in_fan_out").asBoolean(false));
        } catch (CrucibleException e) {
            weights.close();
            throw e;
        }
    }

    private static Map<String, Module> modules(Path file, SafetensorsFile weights, JsonNode cfg, int r) {
        Map<String, String[]> parts = new HashMap<>();
        for (String key : weights.tensors().keySet()) {
            Matcher m = KEY.matcher(key);
            Matcher mag = MAGNITUDE.matcher(key);
            if (m.matches()) {
                parts.computeIfAbsent(m.group(1), k -> new String[3])[m.group(2).equals("A") ? 0 : 1] = key;
            } else if (mag.matches()) {
                parts.computeIfAbsent(mag.group(1), k -> new String[3])[2] = key;
            } else {
                throw new CrucibleException(file + ": tensor '" + key + "' is not a LoRA A/B matrix or DoRA magnitude "
                        + "(modules_to_save and other adapter kinds cannot be applied on the fly)");
            }
        }
        boolean dora = cfg.path("use_dora").asBoolean(false);
        double alpha = cfg.path("lora_alpha").asDouble(r);
        boolean rs = cfg.path("use_rslora").asBoolean(false);
        Map<String, Module> byTarget = new HashMap<>();
        for (Map.Entry<String, String[]> e : parts.entrySet()) {
            String module = e.getKey();
            String[] names = e.getValue();
            if (names[0] == null || names[1] == null) {
                throw new CrucibleException(file + ": module '" + module + "' has only one of lora_A / lora_B");
            }
            if (dora != (names[2] != null)) {
                throw new CrucibleException(file + ": module '" + module + "' " + (dora
                        ? "has no lora_magnitude_vector but the config sets use_dora"
                        : "has a lora_magnitude_vector but the config does not set use_dora"));
            }
            long[] b = weights.info(names[1]).shape();
            if (names[2] != null) {
                long[] mag = weights.info(names[2]).shape();
                if (b.length != 2 || mag.length != 1 || mag[0] != b[0]) {
                    throw new CrucibleException(file + ": module '" + module + "' has lora_magnitude_vector "
                            + Shape.toString(mag) + ", expected [" + (b.length == 2 ? b[0] : "out") + "] (lora_B's rows)");
                }
            }
            JsonNode rank = LoraFold.patternValue(cfg.path("rank_pattern"), module);
            JsonNode a = LoraFold.patternValue(cfg.path("alpha_pattern"), module);
            double scale = LoraFold.scaling(a == null ? alpha : a.asDouble(), rank == null ? r : rank.asInt(), rs);
            byTarget.put(module + ".weight", new Module(names[0], names[1], names[2], scale));
        }
        return byTarget;
    }

    public boolean targets(String weightName) {
        return byTarget.containsKey(weightName);
    }

    /** {@code base} (a weight of the model) with this adapter folded in, as float32 values. */
    public float[] apply(String weightName, Tensor base) {
        Module p = byTarget.get(weightName);
        float[] w = base.toFloatArray();
        Tensor a = weights.tensor(p.a);
        Tensor b = weights.tensor(p.b);
        if (a.shape().length != 2 || b.shape().length != 2 || b.dim(1) != a.dim(0) || !Arrays.equals(base.shape(),
                fanInFanOut ? new long[]{a.dim(1), b.dim(0)} : new long[]{b.dim(0), a.dim(1)})) {
            throw new CrucibleException(directory + ": LoRA for '" + weightName + "' has A " + a + " and B " + b
                    + ", which do not fit the weight " + base);
        }
        float[] magnitude = p.magnitude == null ? null : weights.tensor(p.magnitude).toFloatArray();
        LoraFold.foldInto(w, (int) b.dim(0), (int) a.dim(1), (int) a.dim(0), p.scale, a.toFloatArray(),
                b.toFloatArray(), magnitude, fanInFanOut);
        return w;
    }

    @Override
    public void close() {
        weights.close();
    }
}
