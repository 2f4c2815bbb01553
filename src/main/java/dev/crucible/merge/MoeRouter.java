package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.arch.Architecture;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import dev.crucible.model.TransformerWeights;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchRandom;

import java.util.List;

/**
 * The initial router rows of a Franken-MoE, as mergekit-moe computes them ({@code moe/router.py}): one row
 * per expert and layer, [layers][experts * hidden]. Prompt modes prefix each prompt with the tokenizer's BOS
 * string and tokenize it without adding special tokens; positive minus negative prompts, L2-normalised.
 */
final class MoeRouter {
    private MoeRouter() {
    }

    /** [layers][experts * hidden] router rows; random modes draw from {@code random} (torch.randn / torch.rand). */
    static float[][] gates(MoeConfig config, InputModel base, TorchRandom random, ProgressBar progress) {
        int layers = base.config().numHiddenLayers();
        int hidden = base.config().hiddenSize();
        int experts = config.experts.size();
        return switch (config.gateMode) {
            case RANDOM -> perLayer(random.randn(layers * experts * hidden), layers);
            case UNIFORM_RANDOM -> {
                float scale = (float) Math.sqrt(1.0 / hidden);
                float[] u = random.rand(layers * experts * hidden);
                for (int i = 0; i < u.length; i++) {
                    u[i] = u[i] * 2 * scale - scale;
                }
                yield perLayer(u, layers);
            }
            case CHEAP_EMBED, HIDDEN, HIDDEN_AVG -> fromPrompts(config, base, layers, hidden, progress);
        };
    }

    private static float[][] perLayer(float[] all, int layers) {
        int per = all.length / layers;
        float[][] out = new float[layers][];
        for (int l = 0; l < layers; l++) {
            out[l] = java.util.Arrays.copyOfRange(all, l * per, (l + 1) * per);
        }
        return out;
    }

    /** Per-layer prompt vectors of one prompt set, [layers][hidden]. */
    private interface PromptVectors {
        float[][] of(List<int[]> tokenizedPrompts);
    }

    private static float[][] fromPrompts(MoeConfig config, InputModel base, int layers, int hidden, ProgressBar progress) {
        if (!base.directory().hasTokenizer()) {
            throw new CrucibleException("base_model: " + base.ref() + " has no tokenizer, which gate_mode "
                    + config.gateMode.yamlName + " needs to tokenize the prompts");
        }
        int experts = config.experts.size();
        float[][] out = new float[layers][experts * hidden];
        Transformer model = null;
        try (Tokenizer tokenizer = Tokenizer.load(base.directory().path())) {
            PromptVectors vectors;
            if (config.gateMode == MoeConfig.GateMode.CHEAP_EMBED) {
                Tensor embed = base.load(Architecture.EMBED, DType.F32);
                vectors = prompts -> cheapEmbedding(embed, prompts, layers, hidden);
            } else {
                if (base.ref().lora() != null) {
                    throw new CrucibleException("base_model: gate_mode " + config.gateMode.yamlName + " runs the base "
                            + "model, which cannot carry a LoRA adapter ('" + base.ref() + "'); merge the adapter first");
                }
                Transformer m = Transformer.load(base.directory(), TransformerWeights.Override.NONE);
                model = m;
                boolean average = config.gateMode == MoeConfig.GateMode.HIDDEN_AVG;
                vectors = prompts -> hiddenStates(m, prompts, average);
            }
            // mergekit runs the hidden modes on a bfloat16 model, so their arithmetic after the forward pass is
            // bfloat16 too; cheap_embed works on float32 embeddings
            DType arithmetic = config.gateMode == MoeConfig.GateMode.CHEAP_EMBED ? DType.F32 : DType.BF16;
            String bos = tokenizer.specialTokens().bos() == null ? "" : tokenizer.specialTokens().bos();
            for (int e = 0; e < experts; e++) {
                MoeConfig.Expert expert = config.experts.get(e);
                float[][] v = vectors.of(tokenize(tokenizer, bos, expert.positivePrompts()));
                if (!expert.negativePrompts().isEmpty()) {
                    float[][] neg = vectors.of(tokenize(tokenizer, bos, expert.negativePrompts()));
                    for (int l = 0; l < layers; l++) {
                        for (int i = 0; i < hidden; i++) {
                            v[l][i] = Rounding.round(arithmetic, v[l][i] - neg[l][i]);
                        }
                    }
                }
                for (int l = 0; l < layers; l++) {
                    normalise(v[l], arithmetic);
                    System.arraycopy(v[l], 0, out[l], e * hidden, hidden);
                }
                progress.add(1, 0);
            }
        } finally {
            if (model != null) {
                model.close();
            }
        }
        return out;
    }

    private static List<int[]> tokenize(Tokenizer tokenizer, String bos, List<String> prompts) {
        return prompts.stream().map(p -> tokenizer.encode(bos + p, false)).toList();
    }

    /**
     * The float32 sum of the embedding rows of every token of every prompt (each prompt summed first, then the
     * prompts, in order, as torch reduces), L2-normalised; the same for every layer.
     */
    private static float[][] cheapEmbedding(Tensor embed, List<int[]> prompts, int layers, int hidden) {
        float[] total = new float[hidden];
        float[] row = new float[hidden];
        for (int[] ids : prompts) {
            float[] sum = new float[hidden];
            for (int id : ids) {
                embed.readFloats((long) id * hidden, row, 0, hidden);
                for (int i = 0; i < hidden; i++) {
                    sum[i] += row[i];
                }
            }
            for (int i = 0; i < hidden; i++) {
                total[i] += sum[i];
            }
        }
        normalise(total, DType.F32);
        float[][] out = new float[layers][];
        for (int l = 0; l < layers; l++) {
            out[l] = total.clone();
        }
        return out;
    }

    /**
     * transformers' {@code hidden_states[l]} (the input of layer l) at each prompt's last token, or averaged over
     * its tokens, then averaged over the prompts, with mergekit's bfloat16 roundings (states, sums, quotients).
     * Each prompt runs alone: with mergekit's left padding the padding is masked out, so this is the same
     * computation without the pad positions (for hidden_avg mergekit also averages over pad positions when prompt
     * lengths differ; Crucible averages over the prompt's own tokens). Crucible's forward pass runs in float32
     * where transformers' runs in bfloat16, so the rows agree only approximately.
     */
    private static float[][] hiddenStates(Transformer model, List<int[]> prompts, boolean average) {
        int layers = model.spec().layers();
        int hidden = model.spec().hidden();
        float[][] sum = new float[layers][hidden];
        for (int[] ids : prompts) {
            if (ids.length == 0) {
                throw new CrucibleException("a prompt tokenized to no tokens (the tokenizer has no BOS token)");
            }
            model.forward(new int[][] {ids}, model.newCache(1, ids.length), Transformer.Logits.NONE, (index, states) -> {
                if (index >= layers) {
                    return; // the final norm's output: mergekit drops hidden_states[-1]
                }
                float[] state = new float[hidden];
                for (int t = average ? 0 : ids.length - 1; t < ids.length; t++) {
                    for (int i = 0; i < hidden; i++) {
                        state[i] += Rounding.round(DType.BF16, states[t * hidden + i]);
                    }
                }
                for (int i = 0; i < hidden; i++) {
                    float s = average ? Rounding.round(DType.BF16, Rounding.round(DType.BF16, state[i]) / ids.length)
                            : state[i];
                    sum[index][i] += s;
                }
            });
        }
        for (float[] row : sum) {
            for (int i = 0; i < hidden; i++) {
                row[i] = Rounding.round(DType.BF16, Rounding.round(DType.BF16, row[i]) / prompts.size());
            }
        }
        return sum;
    }

    /** v / max(||v||, 1e-8) with the norm and the quotients rounded to {@code arithmetic}. */
    static void normalise(float[] v, DType arithmetic) {
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        float norm = Rounding.round(arithmetic, (float) Math.max(Math.sqrt(sq), 1e-8));
        for (int i = 0; i < v.length; i++) {
            v[i] = Rounding.round(arithmetic, v[i] / norm);
        }
    }
}
