package dev.crucible.merge;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.arch.Architecture;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraAdapter.Part;
import dev.crucible.peft.LoraConfig;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * {@code crucible extract-lora} (mergekit-extract-lora): a PEFT LoRA adapter approximating {@code model - base}.
 * Every linear layer's delta (computed and rounded in the stored dtype) is factorised by SVD to rank
 * {@code min(maxRank, #singular values > svEpsilon)}: {@code lora_A = sqrt(S) Vh}, {@code lora_B = U sqrt(S)}
 * (or {@code S Vh} and {@code U} without distributing the scale), stored in the delta's dtype; a bias's delta
 * becomes {@code lora_B.bias}. Embeddings and head (unless {@code embedLora}), norms and {@code --save-module}
 * modules are stored at full rank from the fine-tuned model under {@code modules_to_save}.
 */
public final class LoraExtraction {

    /**
     * @param model            fine-tuned model directory (as given, for the card and adapter_config.json)
     * @param baseModel        base model directory (as given)
     * @param maxRank          the rank cap
     * @param distributeScale  split the singular values evenly between A and B
     * @param embedLora        factorise embeddings too (lora_embedding_A/B) instead of saving them
     * @param modulesToSave    module names (full or last component) stored at full rank
     * @param excludeRegexes   modules whose name matches any are skipped
     * @param includeRegexes   if given, only modules matching one are extracted
     * @param svEpsilon        singular values at or below it are dropped
     * @param skipUndecomposable skip modules that are not linear (norms) instead of saving them
     * @param invocation       the command line, for the README
     * @param showProgress     draw a progress bar on stderr
     * @param randomSeed       seed of the randomized SVD's test matrix (wide layers); the output depends on it alone
     */
    public record Options(String model, String baseModel, int maxRank, boolean distributeScale, boolean embedLora,
                          List<String> modulesToSave, List<String> excludeRegexes, List<String> includeRegexes,
                          double svEpsilon, boolean skipUndecomposable, String invocation, boolean showProgress,
                          long randomSeed) {
    }

    private enum Kind { LINEAR, EMBEDDING_LORA, SAVE }

    private record Module(String name, Kind kind, boolean hasBias) {
    }

    private LoraExtraction() {
    }

    public static void extract(Path outDir, Options o, Path[] baseDirs, PrintStream err) {
        if (o.maxRank() < 1) {
            throw new CrucibleException("--max-rank: must be at least 1, got " + o.maxRank());
        }
        List<Pattern> include = compile(o.includeRegexes(), "--include-regex");
        List<Pattern> exclude = compile(o.excludeRegexes(), "--exclude-regex");
        try (InputModel ft = InputModel.open(ModelRef.resolve(o.model(), "--model", baseDirs));
             InputModel base = InputModel.open(ModelRef.resolve(o.baseModel(), "--base-model", baseDirs))) {
            List<String> toSave = new ArrayList<>(o.modulesToSave());
            List<Module> modules = plan(ft, base, o, include, exclude, toSave, err);
            Map<String, Tensor> out = new TreeMap<>(); // safetensors order: by name (one dtype)
            Map<String, Integer> ranks = new LinkedHashMap<>();
            ProgressBar progress = new ProgressBar(err, "extract-lora", "modules", o.showProgress())
                    .expect(modules.size(), 0);
            for (Module m : modules) {
                String w = m.name + ".weight";
                String prefix = LoraAdapter.PREFIX + m.name;
                switch (m.kind) {
                    case SAVE -> {
                        out.put(prefix + ".weight", load(ft, w));
                        if (m.hasBias) {
                            out.put(prefix + ".bias", load(ft, m.name + ".bias"));
                        }
                    }
                    case LINEAR, EMBEDDING_LORA -> {
                        Tensor[] ab = factorise(delta(ft, base, w), m.kind == Kind.EMBEDDING_LORA, o);
                        boolean embedding = m.kind == Kind.EMBEDDING_LORA;
                        out.put(LoraAdapter.savedName(m.name, embedding ? Part.EMBEDDING_A : Part.A), ab[0]);
                        out.put(LoraAdapter.savedName(m.name, embedding ? Part.EMBEDDING_B : Part.B), ab[1]);
                        ranks.put(m.name, (int) ab[0].dim(0));
                        if (m.hasBias) {
                            out.put(LoraAdapter.savedBiasName(m.name), delta(ft, base, m.name + ".bias"));
                        }
                    }
                }
                progress.add(1, 0);
            }
            if (ranks.isEmpty()) {
                throw new CrucibleException("no module to extract: every linear layer was excluded or saved at full rank");
            }
            try (StagedDirectory staged = StagedDirectory.create(outDir)) {
                LoraAdapter.write(staged.path(), config(o, ranks, toSave), out);
                Files.writeString(staged.path().resolve("README.md"), card(o, outDir, ft, base));
                staged.publish();
            } catch (IOException e) {
                throw new CrucibleException(outDir + ": cannot write the adapter: " + e.getMessage(), e);
            }
        }
    }

    /**
     * The modules in transformers' module order (embeddings, per layer attention, MLP, norms, final norm, head),
     * each marked for factorisation or full-rank saving as mergekit decides; {@code toSave} collects the
     * modules_to_save keys in the order they are first added.
     */
    private static List<Module> plan(InputModel ft, InputModel base, Options o, List<Pattern> include,
                                     List<Pattern> exclude, List<String> toSave, PrintStream err) {
        Architecture arch = ft.architecture();
        if (arch.features().moe()) {
            throw new CrucibleException("--model: mixture-of-experts models are not supported by extract-lora");
        }
        boolean embedLora = o.embedLora();
        if (embedLora && info(ft, Architecture.EMBED).shape()[0] != info(base, Architecture.EMBED).shape()[0]) {
            err.println("warning: the vocabulary sizes differ; embeddings are saved at full rank (no --embed-lora)");
            embedLora = false;
        }
        List<String> weights = new ArrayList<>();
        weights.add(Architecture.EMBED);
        for (int l = 0; l < ft.config().numHiddenLayers(); l++) {
            weights.addAll(arch.layerWeightNames(l, ft.config()));
        }
        weights.add(Architecture.FINAL_NORM);
        weights.add(Architecture.LM_HEAD);
        List<Module> modules = new ArrayList<>();
        for (String w : weights) {
            if (!w.endsWith(".weight")) {
                continue; // biases travel with their module
            }
            String name = w.substring(0, w.length() - ".weight".length());
            String key = name.substring(name.lastIndexOf('.') + 1);
            boolean embedding = w.equals(Architecture.EMBED) || w.equals(Architecture.LM_HEAD);
            boolean bias = ft.has(name + ".bias");
            if (!ft.has(w) && !(w.equals(Architecture.LM_HEAD) && ft.has(Architecture.EMBED))) {
                throw new CrucibleException("--model: " + ft.ref() + " has no tensor '" + w + "'");
            }
            if (!embedLora && embedding && exclude.stream().noneMatch(p -> p.matcher(name).find())
                    && !toSave.contains(key)) {
                toSave.add(key);
            }
            if (toSave.contains(name) || toSave.contains(key)) {
                modules.add(new Module(name, Kind.SAVE, bias));
                continue;
            }
            boolean wanted = (include.isEmpty() || include.stream().anyMatch(p -> p.matcher(name).find()))
                    && exclude.stream().noneMatch(p -> p.matcher(name).find());
            if (!wanted) {
                continue;
            }
            if (info(ft, w).shape().length == 2) {
                checkSameShape(ft, base, w);
                if (bias) {
                    checkSameShape(ft, base, name + ".bias");
                }
                modules.add(new Module(name, w.equals(Architecture.EMBED) ? Kind.EMBEDDING_LORA : Kind.LINEAR, bias));
            } else if (!o.skipUndecomposable()) {
                if (!toSave.contains(key)) {
                    toSave.add(key);
                }
                modules.add(new Module(name, Kind.SAVE, bias));
            }
        }
        return modules;
    }

    private static TensorInfo info(InputModel m, String name) {
        if (name.equals(Architecture.LM_HEAD) && !m.has(name)) {
            return m.info(Architecture.EMBED); // tied head
        }
        return m.info(name);
    }

    private static Tensor load(InputModel m, String name) {
        String stored = name.equals(Architecture.LM_HEAD) && !m.has(name) ? Architecture.EMBED : name;
        return m.load(stored, m.info(stored).dtype());
    }

    private static void checkSameShape(InputModel ft, InputModel base, String name) {
        if (!base.has(name) && !(name.equals(Architecture.LM_HEAD) && base.has(Architecture.EMBED))) {
            throw new CrucibleException("--base-model: " + base.ref() + " has no tensor '" + name + "'");
        }
        long[] a = info(ft, name).shape();
        long[] b = info(base, name).shape();
        if (!Arrays.equals(a, b)) {
            throw new CrucibleException("tensor '" + name + "' has shape " + Shape.toString(a) + " in --model but "
                    + Shape.toString(b) + " in --base-model; exclude it (-e) or save it at full rank (--save-module)");
        }
    }

    /** model - base in the fine-tuned tensor's dtype, rounded there as torch's subtraction is. */
    private static Tensor delta(InputModel ft, InputModel base, String name) {
        Tensor a = load(ft, name);
        float[] x = a.toFloatArray();
        float[] y = load(base, name).to(a.dtype()).toFloatArray();
        for (int i = 0; i < x.length; i++) {
            x[i] = Rounding.round(a.dtype(), x[i] - y[i]);
        }
        return Tensor.fromFloats(a.dtype(), x, a.shape());
    }

    /** [A, B] of the delta; embeddings are factorised transposed ([vocab, hidden] becomes [hidden, vocab]). */
    private static Tensor[] factorise(Tensor delta, boolean transpose, Options o) {
        DType dtype = delta.dtype();
        int rows = (int) delta.dim(0);
        int cols = (int) delta.dim(1);
        float[] d = delta.toFloatArray();
        if (transpose) {
            float[] t = new float[d.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    t[j * rows + i] = d[i * cols + j];
                }
            }
            d = t;
            int r = rows;
            rows = cols;
            cols = r;
        }
        LowRank svd = LowRank.truncated(d, rows, cols, o.maxRank(), o.randomSeed());
        int rank = svd.rank();
        if (o.svEpsilon() > 0) {
            int above = 0;
            for (double s : svd.s()) {
                above += s > o.svEpsilon() ? 1 : 0;
            }
            rank = Math.min(rank, above);
        }
        float[] a = new float[rank * cols];
        float[] b = new float[rows * rank];
        for (int k = 0; k < rank; k++) {
            double s = svd.s()[k];
            double scaleA = o.distributeScale() ? Math.sqrt(s) : s;
            double scaleB = o.distributeScale() ? Math.sqrt(s) : 1;
            for (int j = 0; j < cols; j++) {
                a[k * cols + j] = (float) (scaleA * svd.vh()[k * cols + j]);
            }
            for (int i = 0; i < rows; i++) {
                b[i * rank + k] = (float) (svd.u()[i * svd.rank() + k] * scaleB);
            }
        }
        return new Tensor[] {Tensor.fromFloats(dtype, a, rank, cols), Tensor.fromFloats(dtype, b, rows, rank)};
    }

    private static List<Pattern> compile(List<String> regexes, String option) {
        List<Pattern> out = new ArrayList<>();
        for (String r : regexes) {
            try {
                out.add(Pattern.compile(r));
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new CrucibleException(option + ": not a valid regular expression '" + r + "': "
                        + e.getDescription());
            }
        }
        return out;
    }

    /**
     * adapter_config.json as mergekit writes it (its keys, in its order): r = the largest rank, lora_alpha = r,
     * rank_pattern and alpha_pattern (= the rank, so every module's scaling is 1) for modules below it,
     * target_modules the modules' last names.
     */
    private static LoraConfig config(Options o, Map<String, Integer> ranks, List<String> toSave) {
        int r = ranks.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
        ObjectNode cfg = JsonNodeFactory.instance.objectNode();
        cfg.put("base_model_name_or_path", o.baseModel());
        cfg.put("peft_type", "LORA");
        cfg.put("use_rslora", false);
        ArrayNode targets = cfg.putArray("target_modules");
        Set<String> keys = new TreeSet<>();
        ranks.keySet().forEach(k -> keys.add(k.substring(k.lastIndexOf('.') + 1)));
        keys.forEach(targets::add);
        ArrayNode save = cfg.putArray("modules_to_save");
        new LinkedHashSet<>(toSave).forEach(save::add);
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("r", r);
        cfg.put("lora_alpha", r);
        ObjectNode rankPattern = cfg.putObject("rank_pattern");
        ranks.forEach((k, v) -> {
            if (v != r) {
                rankPattern.put(k, v);
            }
        });
        cfg.set("alpha_pattern", rankPattern.deepCopy());
        cfg.put("lora_dropout", 0.0);
        cfg.put("fan_in_fan_out", false);
        cfg.put("inference_mode", true);
        return LoraConfig.inKeyOrder(cfg);
    }

    /** mergekit's LoRA model card (local paths are not Hub models, so base_model lists none). */
    private static String card(Options o, Path outDir, InputModel ft, InputModel base) {
        String details = "This LoRA adapter was extracted from " + o.model() + " and uses " + o.baseModel()
                + " as a base.";
        int ftVocab = (int) info(ft, Architecture.EMBED).shape()[0];
        int baseVocab = (int) info(base, Architecture.EMBED).shape()[0];
        if (ftVocab != baseVocab) {
            details += "\n\n [!WARNING]\n> The vocabulary size has been " + (ftVocab > baseVocab ? "extended" : "reduced")
                    + " from the base model's " + baseVocab + " to " + ftVocab + ". To load this adapter, you must "
                    + "first call `model.resize_token_embeddings(" + ftVocab + ")`.";
        }
        return "---\nbase_model: []\nlibrary_name: peft\ntags:\n- mergekit\n- peft\n\n---\n# "
                + outDir.toAbsolutePath().normalize().getFileName() + "\n\nThis is a LoRA extracted from a language "
                + "model. It was extracted using [mergekit](https://github.com/arcee-ai/mergekit).\n\n## LoRA Details\n\n"
                + details + "\n\n### Parameters\n\nThe following command was used to extract this LoRA adapter:\n\n"
                + "```sh\n" + o.invocation() + "\n```\n";
    }
}
