package dev.crucible.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.io.TensorSpec;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchRandom;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code crucible moe}: a Franken-MoE in mergekit-moe's Mixtral output. Attention, norms, embeddings and head come
 * from {@code base_model}; layer l's expert e is expert model e's MLP of layer l, stored in transformers 5's fused
 * layout ({@code mlp.experts.gate_up_proj} [E, 2I, H] = gate rows then up rows, {@code mlp.experts.down_proj}
 * [E, H, I]); the router {@code mlp.gate.weight} [E, H] comes from {@link MoeRouter}. Everything is checked
 * before the output directory is staged; the result appears only when complete.
 */
public final class MoeMerger {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> BASE_LAYER = List.of("input_layernorm.weight", "self_attn.q_proj.weight",
            "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
            "post_attention_layernorm.weight");
    private static final String[] EXPERT_MLP = {"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"};

    /**
     * @param baseDirs        where relative model paths are looked up, in order
     * @param shardBytes      output shard size limit
     * @param copyTokenizer   copy the base model's tokenizer (pad token set to BOS, as mergekit-moe saves it)
     * @param seed            seed of the random router modes and expert noise (torch's generator)
     * @param writeConfigCopy write {@code mergekit_moe_config.yml}
     * @param allowAllSame    allow every expert to be the same model
     * @param showProgress    draw progress bars on stderr
     */
    public record Options(Path[] baseDirs, long shardBytes, boolean copyTokenizer, long seed, boolean writeConfigCopy,
                          boolean allowAllSame, boolean showProgress) {
    }

    /** The validated inputs and the output's tensor list and config. */
    private record Plan(MoeConfig config, List<InputModel> models, InputModel base, List<InputModel> experts,
                        DType outDType, List<TensorSpec> tensors, ObjectNode outputConfig) implements AutoCloseable {
        @Override
        public void close() {
            models.forEach(InputModel::close);
        }
    }

    private MoeMerger() {
    }

    public static void merge(Path configFile, Path outDir, Options options, PrintStream err) {
        merge(MoeConfig.read(configFile, options.allowAllSame(), options.baseDirs()), outDir, options, err);
    }

    /** Builds the mixture of {@code config} into {@code outDir}, which the caller has checked. */
    public static void merge(MoeConfig config, Path outDir, Options options, PrintStream err) {
        try (Plan plan = plan(config)) {
            write(plan, outDir, options, err);
        }
    }

    /** The output tensors with their sources, the router mode and the byte counts; writes nothing. */
    public static void describe(Path configFile, Options options, PrintStream out) {
        MoeConfig config = MoeConfig.read(configFile, options.allowAllSame(), options.baseDirs());
        try (Plan plan = plan(config)) {
            out.println("output: MixtralForCausalLM, " + plan.experts.size() + " experts, " + config.expertsPerToken
                    + " per token, dtype " + plan.outDType.torchName() + ", gate_mode " + config.gateMode.yamlName);
            out.println("base_model: " + plan.base.ref().spec() + " -> " + plan.base.ref().path());
            for (int e = 0; e < plan.experts.size(); e++) {
                out.println("expert " + e + ": " + plan.experts.get(e).ref().spec() + " -> " + plan.experts.get(e).ref().path());
            }
            long bytes = 0;
            for (TensorSpec t : plan.tensors) {
                out.println(t.name() + " " + t.dtype().safetensorsName() + Shape.toString(t.shape()) + " <- " + source(t.name()));
                bytes += t.byteSize();
            }
            out.println("tensors: " + plan.tensors.size() + "   bytes to write: " + ProgressBar.bytes(bytes));
        }
    }

    private static String source(String name) {
        String w = Architecture.withinLayer(name);
        return switch (w) {
            case Architecture.FUSED_GATE_UP -> "experts' mlp.gate_proj.weight + mlp.up_proj.weight";
            case Architecture.FUSED_DOWN -> "experts' mlp.down_proj.weight";
            case Architecture.FUSED_ROUTER -> "router (gate_mode)";
            default -> "base_model";
        };
    }

    private static Plan plan(MoeConfig config) {
        List<InputModel> models = new ArrayList<>();
        try {
            for (ModelRef r : config.models()) {
                models.add(InputModel.open(r));
            }
            InputModel base = models.get(0);
            List<InputModel> experts = config.experts.stream()
                    .map(e -> models.get(config.models().indexOf(e.sourceModel()))).toList();
            checkModelTypes(base, experts);
            int layers = base.config().numHiddenLayers();
            int hidden = base.config().hiddenSize();
            int inter = base.config().intermediateSize();
            int n = experts.size();
            DType out = config.dtype != null ? config.dtype
                    : base.config().dtype() != null ? base.config().dtype() : base.info(Architecture.EMBED).dtype();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            shapes.put(Architecture.EMBED, require(base, "base_model", Architecture.EMBED, null).shape());
            for (int l = 0; l < layers; l++) {
                String p = Architecture.LAYER_PREFIX + l + ".";
                for (String w : BASE_LAYER) {
                    shapes.put(p + w, require(base, "base_model", p + w, null).shape());
                }
                for (int e = 0; e < n; e++) {
                    String key = "experts[" + e + "].source_model";
                    require(experts.get(e), key, p + EXPERT_MLP[0], new long[] {inter, hidden});
                    require(experts.get(e), key, p + EXPERT_MLP[1], new long[] {inter, hidden});
                    require(experts.get(e), key, p + EXPERT_MLP[2], new long[] {hidden, inter});
                }
                shapes.put(p + Architecture.FUSED_GATE_UP, new long[] {n, 2L * inter, hidden});
                shapes.put(p + Architecture.FUSED_DOWN, new long[] {n, hidden, inter});
                shapes.put(p + Architecture.FUSED_ROUTER, new long[] {n, hidden});
            }
            shapes.put(Architecture.FINAL_NORM, require(base, "base_model", Architecture.FINAL_NORM, null).shape());
            if (base.has(Architecture.LM_HEAD)) {
                shapes.put(Architecture.LM_HEAD, base.info(Architecture.LM_HEAD).shape());
            }
            List<TensorSpec> specs = shapes.entrySet().stream().map(s -> new TensorSpec(s.getKey(), out, s.getValue()))
                    .sorted(Comparator.comparing(TensorSpec::name)).toList(); // safetensors' (and mergekit's) order
            return new Plan(config, models, base, experts, out, specs, outputConfig(base, config, out));
        } catch (RuntimeException e) {
            models.forEach(InputModel::close);
            throw e;
        }
    }

    private static void checkModelTypes(InputModel base, List<InputModel> experts) {
        String type = base.config().modelType();
        if (!"llama".equals(type) && !"mistral".equals(type)) {
            throw new CrucibleException("base_model: model_type '" + type + "' (" + base.ref() + "); the Mixtral output "
                    + "needs llama or mistral models");
        }
        for (int e = 0; e < experts.size(); e++) {
            String t = experts.get(e).config().modelType();
            if (!type.equals(t)) {
                throw new CrucibleException("experts[" + e + "].source_model: model_type '" + t + "' differs from the "
                        + "base model's '" + type + "'; the Mixtral output needs all models of one architecture");
            }
            int layers = experts.get(e).config().numHiddenLayers();
            if (layers < base.config().numHiddenLayers()) {
                throw new CrucibleException("experts[" + e + "].source_model: " + layers + " layers, fewer than the "
                        + "base model's " + base.config().numHiddenLayers());
            }
        }
    }

    /** The tensor's info, checked to exist, be a float tensor and (when given) have {@code shape}. */
    private static TensorInfo require(InputModel model, String key, String name, long[] shape) {
        if (!model.has(name)) {
            throw new CrucibleException(key + ": " + model.ref() + " has no tensor '" + name + "'"
                    + (shape == null ? "" : " (expected shape " + Shape.toString(shape) + ")"));
        }
        TensorInfo info = model.info(name);
        if (shape != null && !Arrays.equals(info.shape(), shape)) {
            throw new CrucibleException(key + ": " + model.ref() + " tensor '" + name + "' has shape "
                    + Shape.toString(info.shape()) + ", expected " + Shape.toString(shape)
                    + " (hidden_size and intermediate_size of the base model)");
        }
        if (!info.dtype().isFloatingPoint()) {
            throw new CrucibleException(key + ": " + model.ref() + " tensor '" + name + "' has dtype " + info.dtype()
                    + ", expected a float type");
        }
        return info;
    }

    /**
     * The base model's config.json made Mixtral's, as mergekit builds it (MistralConfig then MixtralConfig from the
     * base's fields): experts and top-k added, no sliding window, Mixtral's router defaults, the output dtype.
     */
    static ObjectNode outputConfig(InputModel base, MoeConfig config, DType out) {
        ObjectNode json = base.config().json().deepCopy();
        json.putArray("architectures").add("MixtralForCausalLM");
        json.put("model_type", "mixtral");
        json.put("num_local_experts", config.experts.size());
        json.put("num_experts_per_tok", config.expertsPerToken);
        json.putNull("sliding_window");
        if (!json.has("head_dim")) {
            json.put("head_dim", base.config().headDim());
        }
        putIfAbsent(json, "output_router_logits", false);
        putIfAbsent(json, "router_aux_loss_coef", 0.001);
        putIfAbsent(json, "router_jitter_noise", 0.0);
        json.remove("torch_dtype");
        json.put("dtype", out.torchName());
        return json;
    }

    private static void putIfAbsent(ObjectNode json, String key, Object value) {
        if (!json.has(key)) {
            json.set(key, JSON.valueToTree(value));
        }
    }

    private static void write(Plan plan, Path outDir, Options options, PrintStream err) {
        MoeConfig config = plan.config;
        TorchRandom random = new TorchRandom(options.seed());
        ProgressBar routerProgress = new ProgressBar(err, "router " + config.gateMode.yamlName, "experts",
                options.showProgress() && config.gateMode.usesPrompts()).expect(config.experts.size(), 0);
        float[][] gates = MoeRouter.gates(config, plan.base, random, routerProgress);
        warnDegenerate(gates, plan.experts.size(), err);
        long total = plan.tensors.stream().mapToLong(TensorSpec::byteSize).sum();
        try (StagedDirectory staged = StagedDirectory.create(outDir);
             ShardedWriter writer = new ShardedWriter(staged.path(), plan.tensors, options.shardBytes(),
                     Map.of("format", "pt"))) {
            ProgressBar progress = new ProgressBar(err, "moe", "tensors", options.showProgress())
                    .expect(plan.tensors.size(), total);
            long expertBytes = 0;
            for (TensorSpec t : plan.tensors) {
                switch (Architecture.withinLayer(t.name())) {
                    case Architecture.FUSED_ROUTER -> writer.write(t.name(),
                            Tensor.fromFloats(plan.outDType, gates[Architecture.layerOf(t.name())], t.shape()));
                    case Architecture.FUSED_GATE_UP, Architecture.FUSED_DOWN -> {
                        expertBytes += t.byteSize();
                        continue; // below, layer by layer in mergekit's order (which decides the noise draws)
                    }
                    default -> writer.write(t.name(), plan.base.load(t.name(), plan.outDType));
                }
                progress.add(1, t.byteSize());
            }
            int layers = plan.base.config().numHiddenLayers();
            for (int l = 0; l < layers; l++) {
                writeExperts(plan, l, random, writer);
                progress.add(2, expertBytes / layers);
            }
            writer.finish();
            writeFiles(plan, staged.path(), options);
            staged.publish();
        }
    }

    /** Expert e's gate and up rows into gate_up_proj slice e, its down_proj into down_proj slice e. */
    private static void writeExperts(Plan plan, int layer, TorchRandom random, ShardedWriter writer) {
        String p = Architecture.LAYER_PREFIX + layer + ".";
        String gateUp = p + Architecture.FUSED_GATE_UP;
        String down = p + Architecture.FUSED_DOWN;
        for (int e = 0; e < plan.experts.size(); e++) {
            MoeConfig.Expert expert = plan.config.experts.get(e);
            InputModel model = plan.experts.get(e);
            // mergekit's order (gate, down, up) decides which noise each matrix draws
            Tensor gate = expertTensor(model, p + EXPERT_MLP[0], expert, false, random, plan.outDType);
            Tensor dn = expertTensor(model, p + EXPERT_MLP[2], expert, true, random, plan.outDType);
            Tensor up = expertTensor(model, p + EXPERT_MLP[1], expert, false, random, plan.outDType);
            long half = gate.byteSize();
            writer.writeBytes(gateUp, 2L * e * half, gate.data());
            writer.writeBytes(gateUp, (2L * e + 1) * half, up.data());
            writer.writeBytes(down, e * dn.byteSize(), dn.data());
            for (String w : EXPERT_MLP) {
                model.release(p + w);
            }
        }
    }

    /**
     * An expert matrix in the output dtype. With {@code noise_scale} (Gaussian noise) or {@code residual_scale} (on
     * down_proj) the arithmetic happens in the stored dtype first, as mergekit does before casting.
     */
    private static Tensor expertTensor(InputModel model, String name, MoeConfig.Expert expert, boolean residual,
                                       TorchRandom random, DType out) {
        boolean scale = residual && expert.residualScale() != null;
        if (expert.noiseScale() == null && !scale) {
            return model.load(name, out);
        }
        DType stored = model.info(name).dtype();
        float[] v = model.load(name, stored).toFloatArray();
        if (expert.noiseScale() != null) {
            float s = expert.noiseScale().floatValue();
            float[] noise = random.randn(Math.max(16, v.length));
            for (int i = 0; i < v.length; i++) { // randn_like(t) * scale, then t + noise, each in t's dtype
                v[i] = round(stored, v[i] + round(stored, round(stored, noise[i]) * s));
            }
        }
        if (scale) {
            float s = expert.residualScale().floatValue();
            for (int i = 0; i < v.length; i++) {
                v[i] = v[i] * s;
            }
        }
        Tensor t = Tensor.fromFloats(stored, v, model.info(name).shape());
        return t.dtype() == out ? t : t.to(out);
    }

    private static float round(DType dtype, float x) {
        return Rounding.round(dtype, x);
    }

    /** mergekit's warning when a layer's router rows are nearly linearly dependent (condition number above 5). */
    private static void warnDegenerate(float[][] gates, int experts, PrintStream err) {
        List<Integer> bad = new ArrayList<>();
        for (int l = 0; l < gates.length; l++) {
            if (RouterConditioning.conditionNumber(gates[l], experts) > 5) {
                bad.add(l);
            }
        }
        if (!bad.isEmpty()) {
            err.println("warning: " + (bad.size() == gates.length ? "all layers have" : "layers " + bad + " have")
                    + " degenerate routing parameters - your prompts may be too similar; one or more experts will be "
                    + "underutilized");
        }
    }

    /** config.json, the tokenizer (pad token = BOS, as mergekit-moe saves it) and mergekit_moe_config.yml. */
    private static void writeFiles(Plan plan, Path dir, Options options) {
        try {
            MergeOutput.writeJson(dir.resolve(ModelDirectory.CONFIG), plan.outputConfig);
            ModelDirectory baseDir = plan.base.directory();
            if (options.copyTokenizer() && baseDir.hasTokenizer()) {
                baseDir.copyTokenizerTo(dir);
                Path tc = dir.resolve(ModelDirectory.TOKENIZER_CONFIG);
                ObjectNode cfg = Files.isRegularFile(tc) ? (ObjectNode) JSON.readTree(tc.toFile()) : JSON.createObjectNode();
                String pad = cfg.hasNonNull("bos_token") ? tokenText(cfg, "bos_token") : tokenText(cfg, "eos_token");
                if (pad != null) {
                    cfg.put("pad_token", pad);
                    MergeOutput.writeJson(tc, cfg);
                }
            }
            if (options.writeConfigCopy()) {
                Files.writeString(dir.resolve("mergekit_moe_config.yml"), plan.config.sourceText);
            }
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write output files: " + e.getMessage(), e);
        }
    }

    /** A special token of tokenizer_config.json: a string, or transformers 4's {"content": ...} object. */
    private static String tokenText(ObjectNode cfg, String key) {
        var node = cfg.get(key);
        if (node == null || node.isNull()) {
            return null;
        }
        return node.isTextual() ? node.asText() : node.path("content").asText(null);
    }
}
