package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every output tensor of a merge, decided before anything is read or written: its inputs (model, tensor name),
 * the method's parameter values evaluated for it, and its shape. Building the plan is where a config is checked
 * against the models (layer ranges, tensor names, shapes, architectures, required parameters), so a bad config
 * fails before any output exists. Follows mergekit's {@code plan.py}: embeddings come from the first slice's
 * sources and the final norm and LM head from the last slice's, evaluated at t = 0; layer {@code i} of an
 * {@code n}-layer slice is evaluated at {@code t = i / (n - 1)} (1 for a one-layer slice).
 */
public final class MergePlan implements AutoCloseable {
    /** One input tensor: index into {@link #models()} and the tensor's name in that model. */
    public record Input(int model, String tensor) {
    }

    /**
     * @param embed true for embedding and LM-head matrices (rows indexed by token id)
     * @param layer output decoder layer, -1 for embeddings, final norm and head
     */
    public record Entry(String name, List<Input> inputs, int baseIndex, List<Map<String, Object>> modelParameters,
                        Map<String, Object> globalParameters, long[] shape, boolean embed, int layer) {
        public long numel() {
            return Shape.numel(shape);
        }
    }

    private final MergeConfig config;
    private final MergeMethod method;
    private final List<InputModel> models;
    private final List<Entry> entries;
    private final DType computeDType;
    private final ObjectNode outputConfig;
    private final TokenizerMerge.Result vocabulary;
    private final InputModel donor;
    private final List<String> warnings;

    private MergePlan(MergeConfig config, MergeMethod method, List<InputModel> models, List<Entry> entries,
                      DType computeDType, ObjectNode outputConfig, TokenizerMerge.Result vocabulary, InputModel donor,
                      List<String> warnings) {
        this.config = config;
        this.method = method;
        this.models = models;
        this.entries = entries;
        this.computeDType = computeDType;
        this.outputConfig = outputConfig;
        this.vocabulary = vocabulary;
        this.donor = donor;
        this.warnings = warnings;
    }

    public static MergePlan build(MergeConfig config, boolean allowCrimes) {
        return build(config, allowCrimes, null);
    }

    /** @param loraMergeDtype dtype a 'model+adapter' input is folded into (mergekit's --lora-merge-dtype), or null */
    public static MergePlan build(MergeConfig config, boolean allowCrimes, DType loraMergeDtype) {
        MergeMethod method = MergeMethods.get(config.mergeMethod);
        List<String> warnings = new ArrayList<>(config.warnings);
        warnings.addAll(ignoredParameters(config, method));
        List<InputModel> models = new ArrayList<>();
        try {
            for (ModelRef r : config.referencedModels()) {
                models.add(InputModel.open(r, loraMergeDtype));
            }
            return new Builder(config, method, models, allowCrimes, warnings).build();
        } catch (RuntimeException e) {
            models.forEach(InputModel::close);
            throw e;
        }
    }

    /**
     * The parameters mergekit never reads, one warning each: a name the method does not take, at any level, and a
     * method-wide parameter given for one model ({@code lambda} under a model's {@code parameters}), since
     * mergekit looks method-wide parameters up in the slice, module and top-level {@code parameters} only. Per-model
     * parameters given at those levels are defaults for every model, as in mergekit.
     */
    static List<String> ignoredParameters(MergeConfig config, MergeMethod method) {
        Set<String> known = new HashSet<>(method.globalParameters().keySet());
        known.addAll(method.modelParameters().keySet());
        List<String> out = new ArrayList<>();
        ignored(config.parameters, known, "parameters", method, out);
        ignored(config.moduleParameters, known, config.slicesKeyPrefix + "parameters", method, out);
        for (int i = 0; i < config.slices.size(); i++) {
            MergeConfig.Slice s = config.slices.get(i);
            String where = config.slicesKeyPrefix + (config.modelsSyntax ? "models" : "slices[" + i + "]");
            ignored(s.parameters(), known, where + ".parameters", method, out);
            for (int j = 0; j < s.sources().size(); j++) {
                String key = config.slicesKeyPrefix + (config.modelsSyntax ? "models[" + j + "].parameters"
                        : "slices[" + i + "].sources[" + j + "].parameters");
                ignored(s.sources().get(j).parameters(), method.modelParameters().keySet(), key, method, out);
            }
        }
        return out;
    }

    private static void ignored(Map<String, Object> params, Set<String> used, String where, MergeMethod method,
                                List<String> out) {
        for (String k : params.keySet()) {
            if (used.contains(k)) {
                continue;
            }
            if (method.globalParameters().containsKey(k)) {
                out.add(where + "." + k + ": ignored, as mergekit ignores it: '" + k + "' applies to the whole merge_method "
                        + method.name() + " and is read from the top-level (or slice) parameters, not a model's;"
                        + " move it there to use it");
            } else {
                Set<String> takes = new java.util.TreeSet<>(method.globalParameters().keySet());
                takes.addAll(method.modelParameters().keySet());
                out.add(where + "." + k + ": ignored, as mergekit ignores it: merge_method " + method.name()
                        + " does not use '" + k + "'" + (takes.isEmpty() ? " (it takes no parameters)"
                        : " (it takes " + List.copyOf(takes) + ")"));
            }
        }
    }

    private static final class Builder {
        final MergeConfig config;
        final MergeMethod method;
        final List<InputModel> models;
        final boolean allowCrimes;
        final Map<ModelRef, Integer> index = new LinkedHashMap<>();
        final List<Entry> entries = new ArrayList<>();
        final List<String> warnings;
        InputModel donor;
        ModelConfig out;
        Architecture arch;
        TokenizerMerge.Result vocab;
        boolean outTied;
        /** Each output layer's {@code layer_types} entry, taken from the layer it was made from (null: none). */
        final List<JsonNode> layerTypes = new ArrayList<>();

        Builder(MergeConfig config, MergeMethod method, List<InputModel> models, boolean allowCrimes,
                List<String> warnings) {
            this.config = config;
            this.warnings = warnings;
            this.method = method;
            this.models = models;
            this.allowCrimes = allowCrimes;
            for (int i = 0; i < models.size(); i++) {
                index.put(models.get(i).ref(), i);
            }
        }

        MergePlan build() {
            donor = config.baseModel != null ? model(config.baseModel) : models.getFirst();
            out = donor.config();
            arch = donor.architecture();
            outTied = out.tieWordEmbeddings() || !donor.has(Architecture.LM_HEAD);
            for (InputModel m : models) {
                if (!sameArchitecture(m.architecture(), arch)) {
                    if (!allowCrimes) {
                        throw new CrucibleException(m.ref() + ": architecture " + m.architecture().className() + " ("
                                + m.architecture().modelType() + ") differs from " + donor.ref() + "'s "
                                + arch.className() + "; pass --allow-crimes to merge them anyway");
                    }
                    warnings.add("mixing architectures " + m.architecture().className() + " and " + arch.className());
                }
            }
            if (config.tokenizer != null) {
                vocab = TokenizerMerge.build(config.tokenizer, config.baseModel, models);
            }
            List<List<MergeConfig.Source>> slices = normalizedSlices();
            planNonLayer(Architecture.EMBED, config.slices.getFirst(), slices.getFirst());
            int outLayer = 0;
            for (int s = 0; s < slices.size(); s++) {
                List<MergeConfig.Source> sources = slices.get(s);
                int n = sources.getFirst().layerRange()[1] - sources.getFirst().layerRange()[0];
                for (int i = 0; i < n; i++) {
                    double t = n > 1 ? (double) i / (n - 1) : 1.0;
                    planLayer(config.slices.get(s), sources, i, outLayer++, t);
                }
            }
            planNonLayer(Architecture.FINAL_NORM, config.slices.getLast(), slices.getLast());
            if (!outTied) {
                planNonLayer(Architecture.LM_HEAD, config.slices.getLast(), slices.getLast());
            }
            for (InputModel m : models) {
                if (outTied && m.has(Architecture.LM_HEAD) && !m.config().tieWordEmbeddings()) {
                    warnings.add(m.ref() + " has an untied lm_head but the output (like " + donor.ref()
                            + ") ties it to embed_tokens; that lm_head is not used");
                }
            }
            DType compute = config.dtype != null ? config.dtype
                    : out.dtype() != null ? out.dtype() : donor.info(Architecture.EMBED).dtype();
            ObjectNode json = out.json();
            json.put("num_hidden_layers", outLayer);
            if (json.has("layer_types")) {
                // transformers rejects a config whose layer_types does not list every layer, and a stacked
                // layer keeps the attention type (sliding or full) it was trained with
                if (layerTypes.contains(null)) {
                    json.remove("layer_types");
                } else {
                    json.putArray("layer_types").addAll(layerTypes);
                }
            }
            long vocabRows = entries.stream().filter(e -> e.name.equals(Architecture.EMBED)).findFirst()
                    .map(e -> e.shape[0]).orElse((long) out.intOr("vocab_size", 0));
            json.put("vocab_size", vocabRows);
            json.remove("torch_dtype");
            json.put("dtype", (config.outDtype != null ? config.outDtype : compute).torchName());
            return new MergePlan(config, method, models, List.copyOf(entries), compute, json, vocab, donor,
                    List.copyOf(warnings));
        }

        private static boolean sameArchitecture(Architecture a, Architecture b) {
            return java.util.Objects.equals(a.className(), b.className()) && a.layerWeights().equals(b.layerWeights());
        }

        InputModel model(ModelRef r) {
            return models.get(index.get(r));
        }

        /** Slices with every source's layer range filled in and checked; {@code models:} adds an unlisted base. */
        List<List<MergeConfig.Source>> normalizedSlices() {
            List<List<MergeConfig.Source>> out = new ArrayList<>();
            for (int s = 0; s < config.slices.size(); s++) {
                MergeConfig.Slice slice = config.slices.get(s);
                List<MergeConfig.Source> sources = new ArrayList<>();
                for (int j = 0; j < slice.sources().size(); j++) {
                    MergeConfig.Source src = slice.sources().get(j);
                    int layers = model(src.model()).config().numHiddenLayers();
                    String key = config.modelsSyntax ? "models[" + j + "]" : "slices[" + s + "].sources[" + j + "].layer_range";
                    int[] range = src.layerRange() == null ? new int[]{0, layers} : src.layerRange();
                    if (range[1] > layers) {
                        throw new CrucibleException(key + ": " + Arrays.toString(range) + " is out of bounds for "
                                + src.model() + ", which has " + layers + " layers (ranges are half-open [start, end))");
                    }
                    sources.add(new MergeConfig.Source(src.model(), range, src.parameters()));
                }
                if (config.modelsSyntax && config.baseModel != null
                        && sources.stream().noneMatch(x -> x.model().equals(config.baseModel))) {
                    int layers = model(config.baseModel).config().numHiddenLayers();
                    sources.add(new MergeConfig.Source(config.baseModel, new int[]{0, layers}, Map.of()));
                }
                int n = sources.getFirst().layerRange()[1] - sources.getFirst().layerRange()[0];
                for (int j = 1; j < sources.size(); j++) {
                    int[] r = sources.get(j).layerRange();
                    if (r[1] - r[0] != n) {
                        throw new CrucibleException((config.modelsSyntax ? "models" : "slices[" + s + "]") + ": "
                                + sources.get(j).model() + " has " + (r[1] - r[0]) + " layers but "
                                + sources.getFirst().model() + " has " + n
                                + "; all inputs of a slice must span the same number of layers");
                    }
                }
                out.add(sources);
            }
            return out;
        }

        /** The source layer's {@code layer_types} entry, or null where its config lists none for every layer. */
        JsonNode layerType(MergeConfig.Source src, int offset) {
            ModelConfig c = model(src.model()).config();
            JsonNode types = c.get("layer_types");
            return types != null && types.isArray() && types.size() == c.numHiddenLayers()
                    ? types.get(src.layerRange()[0] + offset) : null;
        }

        void planNonLayer(String name, MergeConfig.Slice slice, List<MergeConfig.Source> sources) {
            List<String> names = new ArrayList<>();
            for (MergeConfig.Source src : sources) {
                InputModel m = model(src.model());
                String in = name;
                if (name.equals(Architecture.LM_HEAD) && !m.has(name)) {
                    in = Architecture.EMBED; // a tied model's head is its embedding matrix
                }
                names.add(in);
            }
            boolean embed = name.equals(Architecture.EMBED) || name.equals(Architecture.LM_HEAD);
            addEntry(name, slice, sources, names, 0.0, embed, -1);
        }

        void planLayer(MergeConfig.Slice slice, List<MergeConfig.Source> sources, int offset, int outLayer, double t) {
            List<String> outNames = arch.layerWeightNames(outLayer, out);
            layerTypes.add(layerType(sources.getFirst(), offset));
            List<List<String>> inNames = new ArrayList<>();
            for (MergeConfig.Source src : sources) {
                InputModel m = model(src.model());
                List<String> names = m.architecture().layerWeightNames(src.layerRange()[0] + offset, m.config());
                if (names.size() != outNames.size()) {
                    throw new CrucibleException(src.model() + ": layer " + (src.layerRange()[0] + offset) + " has "
                            + names.size() + " weights but the output layer has " + outNames.size());
                }
                inNames.add(names);
            }
            for (int w = 0; w < outNames.size(); w++) {
                List<String> names = new ArrayList<>();
                for (List<String> n : inNames) {
                    names.add(n.get(w));
                }
                addEntry(outNames.get(w), slice, sources, names, t, false, outLayer);
            }
        }

        void addEntry(String name, MergeConfig.Slice slice, List<MergeConfig.Source> sources, List<String> inNames,
                      double t, boolean embed, int layer) {
            List<Input> inputs = new ArrayList<>();
            List<MergeConfig.Source> used = new ArrayList<>();
            List<long[]> shapes = new ArrayList<>();
            for (int i = 0; i < sources.size(); i++) {
                InputModel m = model(sources.get(i).model());
                if (!m.has(inNames.get(i))) {
                    throw new CrucibleException(m.ref() + ": has no tensor '" + inNames.get(i) + "' (needed for output "
                            + name + ")");
                }
                inputs.add(new Input(index.get(m.ref()), inNames.get(i)));
                used.add(sources.get(i));
                shapes.add(m.info(inNames.get(i)).shape());
            }
            long[] shape = shapes.getFirst();
            if (embed && vocab != null) {
                long hidden = shape[1];
                for (int i = 1; i < shapes.size(); i++) {
                    if (shapes.get(i)[1] != hidden) {
                        throw new CrucibleException(name + ": embedding width " + shapes.get(i)[1] + " in "
                                + used.get(i).model() + " differs from " + hidden + " in " + used.getFirst().model());
                    }
                }
                shape = new long[]{vocab.size(), hidden};
            } else if (embed && shapes.stream().anyMatch(s -> !Arrays.equals(s, shapes.getFirst()))) {
                // mergekit's legacy vocabulary rule: keep the rows and columns every model has.
                long rows = shapes.stream().mapToLong(s -> s[0]).min().orElseThrow();
                long cols = shapes.stream().mapToLong(s -> s[1]).min().orElseThrow();
                shape = new long[]{rows, cols};
                warnings.add(name + ": embedding sizes differ between models; truncated to " + Shape.toString(shape)
                        + " (set tokenizer: {source: union} to merge vocabularies)");
            } else {
                ModelRef baseRef = slice.baseModel() != null ? slice.baseModel() : config.baseModel;
                int ref = 0;
                for (int i = 0; i < used.size(); i++) {
                    if (used.get(i).model().equals(baseRef)) {
                        ref = i;
                    }
                }
                shape = shapes.get(ref);
                for (int i = shapes.size() - 1; i >= 0; i--) {
                    if (!Arrays.equals(shapes.get(i), shape)) {
                        if (!allowCrimes) {
                            throw new CrucibleException(name + ": shape " + Shape.toString(shapes.get(i)) + " in "
                                    + used.get(i).model() + " but " + Shape.toString(shape) + " in "
                                    + used.get(ref).model() + "; pass --allow-crimes to skip mismatched inputs");
                        }
                        warnings.add(name + ": skipping " + used.get(i).model() + " (shape " + Shape.toString(shapes.get(i))
                                + " instead of " + Shape.toString(shape) + ")");
                        inputs.remove(i);
                        used.remove(i);
                    }
                }
            }
            ModelRef baseRef = slice.baseModel() != null ? slice.baseModel() : config.baseModel;
            int baseIndex = -1;
            for (int i = 0; i < used.size(); i++) {
                if (used.get(i).model().equals(baseRef)) {
                    baseIndex = i;
                    break;
                }
            }
            if (method.baseModelUse() == MergeMethod.BaseModelUse.REQUIRED && baseIndex < 0) {
                throw new CrucibleException("base_model: merge_method " + method.name() + " needs a base model among "
                        + "the inputs of " + name + (baseRef == null ? " (none is set)" : " (" + baseRef + " is not one)"));
            }
            Map<String, Object> global = new LinkedHashMap<>();
            for (Map.Entry<String, Object> p : method.globalParameters().entrySet()) {
                Object v = lookup(p.getKey(), null, slice, used, name, t);
                if (v == null) {
                    v = p.getValue();
                }
                if (v == null) {
                    throw new CrucibleException("parameters." + p.getKey() + ": required by merge_method " + method.name()
                            + " (missing for " + name + ")");
                }
                global.put(p.getKey(), v);
            }
            List<Map<String, Object>> perModel = new ArrayList<>();
            for (int i = 0; i < used.size(); i++) {
                Map<String, Object> values = new LinkedHashMap<>();
                ModelRef m = used.get(i).model();
                for (Map.Entry<String, Object> p : method.modelParameters().entrySet()) {
                    Object v = lookup(p.getKey(), m, slice, used, inputs.get(i).tensor(), t);
                    if (v == null) {
                        v = p.getValue();
                    }
                    if (v == null && i != baseIndex) {
                        throw new CrucibleException("parameter '" + p.getKey() + "' is required by merge_method "
                                + method.name() + " for model " + m + " (missing for " + inputs.get(i).tensor() + ")");
                    }
                    values.put(p.getKey(), v);
                }
                perModel.add(values);
            }
            entries.add(new Entry(name, List.copyOf(inputs), baseIndex, List.copyOf(perModel), global, shape, embed,
                    layer));
        }

        /** mergekit's precedence: the source's own parameters, then the slice's, the module's, the top level. */
        Object lookup(String key, ModelRef model, MergeConfig.Slice slice, List<MergeConfig.Source> sources,
                      String tensor, double t) {
            if (model != null) {
                for (MergeConfig.Source s : sources) {
                    if (s.model().equals(model) && s.parameters().containsKey(key)) {
                        Object v = ParameterSetting.evaluate(s.parameters().get(key), tensor, t);
                        if (v != null) {
                            return v;
                        }
                    }
                }
            }
            if (slice.parameters().containsKey(key)) {
                Object v = ParameterSetting.evaluate(slice.parameters().get(key), tensor, t);
                if (v != null) {
                    return v;
                }
            }
            if (config.moduleParameters.containsKey(key)) {
                Object v = ParameterSetting.evaluate(config.moduleParameters.get(key), tensor, t);
                if (v != null) {
                    return v;
                }
            }
            if (config.parameters.containsKey(key)) {
                return ParameterSetting.evaluate(config.parameters.get(key), tensor, t);
            }
            return null;
        }
    }

    public MergeConfig config() {
        return config;
    }

    public MergeMethod method() {
        return method;
    }

    public List<InputModel> models() {
        return models;
    }

    public List<Entry> entries() {
        return entries;
    }

    /** The dtype inputs are converted to and the method computes in (config {@code dtype}, else the donor's). */
    public DType computeDType() {
        return computeDType;
    }

    /** config.json of the output: the donor's with layer count, vocab size and dtype updated. */
    public ObjectNode outputConfig() {
        return outputConfig.deepCopy();
    }

    /** The merged vocabulary, or null without a tokenizer setting. */
    public TokenizerMerge.Result vocabulary() {
        return vocabulary;
    }

    /** The model whose config.json (and, without a tokenizer merge, tokenizer) the output takes. */
    public InputModel donor() {
        return donor;
    }

    public List<String> warnings() {
        return warnings;
    }

    /** Bytes of input tensors the merge reads (each model tensor counted once per use). */
    public long bytesToRead() {
        long n = 0;
        for (Entry e : entries) {
            for (Input in : e.inputs) {
                n += models.get(in.model).bytes(in.tensor);
            }
        }
        return n;
    }

    @Override
    public void close() {
        models.forEach(InputModel::close);
    }
}
