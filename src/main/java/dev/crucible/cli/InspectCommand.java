package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.gguf.ModelInputs;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.TensorInfo;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code crucible inspect MODEL_DIR}: what a model directory holds, read from headers only (no tensor data). */
@Command(name = "inspect", description = "Describe a Hugging Face model directory: architecture, size, dtypes, "
        + "shards and, with --tensors, every tensor.")
final class InspectCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model directory (config.json + safetensors) or a GGUF file.")
    Path modelDir;

    @Option(names = "--tensors", description = "List every tensor's name, dtype and shape.")
    boolean tensors;

    @Option(names = "--json", description = "Print one JSON object instead of text (for scripts).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        ModelInputs.requireModelPath(modelDir);
        if (ModelInputs.isGguf(modelDir)) {
            GgufInspect.print(modelDir, tensors, json, spec.commandLine().getOut());
            return;
        }
        ModelDirectory dir = ModelDirectory.open(modelDir);
        ModelConfig config = dir.config();
        try (Checkpoint ckpt = dir.openCheckpoint()) {
            Summary s = Summary.of(dir, config, ckpt);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(s.toJson(tensors ? ckpt : null));
            } else {
                s.print(out, tensors ? ckpt : null);
            }
            out.flush();
        }
    }

    /** Everything inspect reports, gathered once and printed as text or JSON. */
    record Summary(Path path, String architecture, String modelType, String family, long parameters,
                   Map<DType, long[]> dtypes, List<SafetensorsFile> shards, long totalBytes, long diskBytes,
                   Integer numLayers, Integer hiddenSize, Integer intermediateSize, Integer heads, Integer kvHeads,
                   Integer headDim, Integer vocabSize, Integer maxPositions, Double ropeTheta, String ropeType,
                   String configDtype, boolean tiedEmbeddings, boolean tokenizer, boolean chatTemplate,
                   List<String> missing, List<String> unexpected) {

        static Summary of(ModelDirectory dir, ModelConfig config, Checkpoint ckpt) {
            Map<DType, long[]> dtypes = new EnumMap<>(DType.class);
            long params = 0;
            int maxLayer = -1;
            for (String name : ckpt.names()) {
                TensorInfo t = ckpt.info(name);
                long[] c = dtypes.computeIfAbsent(t.dtype(), k -> new long[2]);
                c[0]++;
                c[1] += t.numel();
                params += t.numel();
                maxLayer = Math.max(maxLayer, Architecture.layerOf(name));
            }
            long disk = 0;
            for (SafetensorsFile f : ckpt.shards()) {
                disk += size(f.path());
            }
            Integer layers = intKey(config, "num_hidden_layers");
            if (layers == null && maxLayer >= 0) {
                layers = maxLayer + 1;
            }

            String family;
            List<String> missing = List.of();
            List<String> unexpected = List.of();
            Architecture arch = null;
            try {
                arch = Architecture.ofOrInfer(config, ckpt.names());
            } catch (CrucibleException e) {
                // an unknown family is still worth describing; it just has no expected weight list
            }
            if (arch == null) {
                family = "unknown";
            } else {
                family = Architecture.REGISTRY.containsKey(String.valueOf(config.modelType())) ? "registered"
                        : "inferred (llama-like)";
                if (layers != null && intKey(config, "num_hidden_layers") != null) {
                    Set<String> expected = new LinkedHashSet<>(arch.weightNames(config));
                    Set<String> present = new LinkedHashSet<>(ckpt.names());
                    missing = expected.stream().filter(n -> !present.contains(n)).toList();
                    // lm_head next to tied embeddings is redundant, not wrong
                    unexpected = present.stream().filter(n -> !expected.contains(n) && !n.equals(Architecture.LM_HEAD))
                            .toList();
                }
            }
            Double theta = config.has("rope_theta") || config.has("rope_parameters") ? config.ropeTheta() : null;
            String configDtype = config.text("dtype", config.text("torch_dtype", null));
            return new Summary(dir.path(), config.architecture(), config.modelType(), family, params, dtypes,
                    ckpt.shards(), ckpt.totalBytes(), disk, layers, intKey(config, "hidden_size"),
                    intKey(config, "intermediate_size"), intKey(config, "num_attention_heads"),
                    intKey(config, "num_key_value_heads"), headDim(config), intKey(config, "vocab_size"),
                    intKey(config, "max_position_embeddings"), theta,
                    theta == null && !config.has("rope_scaling") ? null : config.ropeType(), configDtype,
                    config.tieWordEmbeddings(), dir.hasTokenizer(), chatTemplateOf(dir), missing, unexpected);
        }

        /** A config integer, looked up in {@code text_config} too (multimodal configs nest the language model). */
        private static Integer intKey(ModelConfig config, String key) {
            JsonNode n = config.get(key);
            if (n == null || !n.isNumber()) {
                JsonNode text = config.get("text_config");
                n = text == null ? null : text.get(key);
            }
            return n != null && n.isNumber() ? n.asInt() : null;
        }

        /** {@code head_dim}, or hidden size / heads as transformers derives it when the key is absent. */
        private static Integer headDim(ModelConfig config) {
            Integer explicit = intKey(config, "head_dim");
            Integer hidden = intKey(config, "hidden_size");
            Integer heads = intKey(config, "num_attention_heads");
            return explicit != null || hidden == null || heads == null || heads == 0 ? explicit : hidden / heads;
        }

        private static boolean chatTemplateOf(ModelDirectory dir) {
            return dir.chatTemplate() != null;
        }

        private static long size(Path p) {
            try {
                return Files.size(p);
            } catch (IOException e) {
                throw new CrucibleException(p + ": cannot read size: " + e.getMessage(), e);
            }
        }

        void print(PrintWriter out, Checkpoint withTensors) {
            row(out, "model", path.toString());
            row(out, "architecture", orDash(architecture) + " (model_type " + orDash(modelType) + ", " + family + ")");
            row(out, "parameters", String.format(Locale.ROOT, "%,d (%s)", parameters, human(parameters)));
            List<String> parts = new ArrayList<>();
            dtypes.forEach((t, c) -> parts.add(String.format(Locale.ROOT, "%s: %d tensors, %,d params",
                    t.safetensorsName(), c[0], c[1])));
            row(out, "dtypes", String.join("; ", parts));
            row(out, "shards", String.format(Locale.ROOT, "%d file%s, %,d bytes of tensor data (%s), %,d on disk",
                    shards.size(), shards.size() == 1 ? "" : "s", totalBytes, humanBytes(totalBytes), diskBytes));
            row(out, "layers", orDash(numLayers));
            row(out, "hidden size", orDash(hiddenSize) + " (intermediate " + orDash(intermediateSize) + ", heads "
                    + orDash(heads) + ", kv heads " + orDash(kvHeads) + ", head dim " + orDash(headDim) + ")");
            row(out, "vocab size", orDash(vocabSize));
            row(out, "context", orDash(maxPositions));
            row(out, "rope", ropeTheta == null ? "-" : "theta " + formatNumber(ropeTheta) + ", type " + ropeType);
            row(out, "config dtype", orDash(configDtype));
            row(out, "tied embeddings", tiedEmbeddings ? "yes" : "no");
            row(out, "tokenizer", (tokenizer ? "yes" : "no") + ", chat template " + (chatTemplate ? "yes" : "no"));
            if (!missing.isEmpty()) {
                row(out, "MISSING weights", missing.size() + ": " + abbreviate(missing));
            }
            if (!unexpected.isEmpty()) {
                row(out, "extra weights", unexpected.size() + ": " + abbreviate(unexpected));
            }
            if (withTensors != null) {
                out.println();
                int width = withTensors.names().stream().mapToInt(String::length).max().orElse(4);
                for (String name : withTensors.names()) {
                    TensorInfo t = withTensors.info(name);
                    out.printf(Locale.ROOT, "%-" + width + "s  %-7s %s%n", name, t.dtype().safetensorsName(),
                            Shape.toString(t.shape()));
                }
            }
        }

        String toJson(Checkpoint withTensors) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode o = mapper.createObjectNode();
            o.put("path", path.toString());
            o.put("architecture", architecture);
            o.put("model_type", modelType);
            o.put("family", family);
            o.put("parameters", parameters);
            ObjectNode dt = o.putObject("dtypes");
            ObjectNode dtParams = o.putObject("parameters_by_dtype");
            dtypes.forEach((t, c) -> {
                dt.put(t.safetensorsName(), c[0]);
                dtParams.put(t.safetensorsName(), c[1]);
            });
            o.put("shards", shards.size());
            ArrayNode files = o.putArray("shard_files");
            shards.forEach(f -> files.add(f.path().getFileName().toString()));
            o.put("total_bytes", totalBytes);
            o.put("disk_bytes", diskBytes);
            o.put("num_layers", numLayers);
            o.put("hidden_size", hiddenSize);
            o.put("intermediate_size", intermediateSize);
            o.put("num_attention_heads", heads);
            o.put("num_key_value_heads", kvHeads);
            o.put("head_dim", headDim);
            o.put("vocab_size", vocabSize);
            o.put("max_position_embeddings", maxPositions);
            o.put("rope_theta", ropeTheta);
            o.put("rope_type", ropeType);
            o.put("config_dtype", configDtype);
            o.put("tie_word_embeddings", tiedEmbeddings);
            o.put("tokenizer", tokenizer);
            o.put("chat_template", chatTemplate);
            missing.forEach(o.putArray("missing_weights")::add);
            unexpected.forEach(o.putArray("unexpected_weights")::add);
            if (withTensors != null) {
                ArrayNode arr = o.putArray("tensors");
                for (String name : withTensors.names()) {
                    TensorInfo t = withTensors.info(name);
                    ObjectNode e = arr.addObject();
                    e.put("name", name);
                    e.put("dtype", t.dtype().safetensorsName());
                    ArrayNode shape = e.putArray("shape");
                    for (long d : t.shape()) {
                        shape.add(d);
                    }
                }
            }
            return o.toString();
        }

        private static void row(PrintWriter out, String key, String value) {
            out.printf(Locale.ROOT, "%-16s %s%n", key + ":", value);
        }

        private static String orDash(Object o) {
            return o == null ? "-" : o.toString();
        }

        private static String abbreviate(List<String> names) {
            return names.size() <= 5 ? String.join(", ", names)
                    : String.join(", ", names.subList(0, 5)) + ", ... (" + (names.size() - 5) + " more)";
        }

        private static String formatNumber(double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
        }

        static String human(long n) {
            String[] units = {"", "K", "M", "B", "T"};
            double v = n;
            int u = 0;
            while (v >= 1000 && u < units.length - 1) {
                v /= 1000;
                u++;
            }
            return u == 0 ? Long.toString(n) : String.format(Locale.ROOT, "%.2f%s", v, units[u]);
        }

        static String humanBytes(long n) {
            String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
            double v = n;
            int u = 0;
            while (v >= 1024 && u < units.length - 1) {
                v /= 1024;
                u++;
            }
            return u == 0 ? n + " B" : String.format(Locale.ROOT, "%.2f %s", v, units[u]);
        }
    }
}
