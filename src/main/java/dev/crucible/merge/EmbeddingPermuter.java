package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Rebuilds each model's embedding (or LM head) matrix on the merged vocabulary before the merge method sees it,
 * as mergekit's {@code PermutedEmbeddings}: a model's own row where it has the token; otherwise the row the
 * {@code tokens:} config names, else the only model that has it, else zero when none has it, else the base
 * model's, else the mean over the models that have it. Padding rows are the mean of the real rows. Sums and
 * means round to the compute dtype the way torch does (each addition rounded; {@code mean} rounded once).
 */
final class EmbeddingPermuter {
    private EmbeddingPermuter() {
    }

    static List<Tensor> permute(MergePlan plan, MergePlan.Entry entry, List<Tensor> raw) {
        TokenizerMerge.Result vocab = plan.vocabulary();
        DType dtype = plan.computeDType();
        int rows = (int) entry.shape()[0];
        int hidden = (int) entry.shape()[1];
        int real = vocab.tokens().size();
        int n = raw.size();
        List<ModelRef> refs = new ArrayList<>();
        List<int[]> perms = new ArrayList<>();
        List<float[]> src = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ModelRef r = plan.models().get(entry.inputs().get(i).model()).ref();
            refs.add(r);
            perms.add(vocab.permutations().get(r));
            src.add(raw.get(i).toFloatArray());
        }
        Map<String, MergeConfig.TokenSource> configs = plan.config().tokenizer.tokens();
        ModelRef base = plan.config().baseModel;
        int baseIdx = base == null ? -1 : refs.indexOf(base);
        float[][] defaults = new float[real][];
        for (int id = 0; id < real; id++) {
            String token = vocab.tokens().get(id);
            MergeConfig.TokenSource cfg = configs.get(token);
            if (cfg != null && !cfg.kind().equals("auto")) {
                defaults[id] = configured(cfg, token, id, refs, perms, src, vocab, hidden, entry);
                continue;
            }
            int present = 0;
            int only = -1;
            for (int i = 0; i < n; i++) {
                if (perms.get(i)[id] >= 0) {
                    present++;
                    only = i;
                }
            }
            if (present == n && (cfg == null || !cfg.force())) {
                continue; // every model has its own row
            }
            if (present == 1) {
                defaults[id] = row(src.get(only), perms.get(only)[id], hidden);
            } else if (present == 0) {
                System.err.println("warning: token '" + token + "' is in no model's vocabulary; its " + entry.name()
                        + " row is zero");
                defaults[id] = new float[hidden];
            } else if (baseIdx >= 0 && perms.get(baseIdx)[id] >= 0) {
                defaults[id] = row(src.get(baseIdx), perms.get(baseIdx)[id], hidden);
            } else {
                float[] sum = new float[hidden];
                for (int i = 0; i < n; i++) {
                    if (perms.get(i)[id] >= 0) {
                        int off = perms.get(i)[id] * hidden;
                        for (int h = 0; h < hidden; h++) {
                            sum[h] = Rounding.round(dtype, sum[h] + src.get(i)[off + h]);
                        }
                    }
                }
                for (int h = 0; h < hidden; h++) {
                    sum[h] = Rounding.round(dtype, sum[h] / present);
                }
                defaults[id] = sum;
            }
        }
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] m = new float[rows * hidden];
            int[] p = perms.get(i);
            for (int id = 0; id < real; id++) {
                MergeConfig.TokenSource cfg = configs.get(vocab.tokens().get(id));
                boolean force = cfg != null && cfg.force();
                if (p[id] >= 0 && !force) {
                    System.arraycopy(src.get(i), p[id] * hidden, m, id * hidden, hidden);
                } else if (defaults[id] != null) {
                    System.arraycopy(defaults[id], 0, m, id * hidden, hidden);
                }
            }
            if (rows > real) {
                double[] mean = new double[hidden];
                for (int id = 0; id < real; id++) {
                    for (int h = 0; h < hidden; h++) {
                        mean[h] += m[id * hidden + h];
                    }
                }
                for (int id = real; id < rows; id++) {
                    for (int h = 0; h < hidden; h++) {
                        m[id * hidden + h] = Rounding.round(dtype, (float) (mean[h] / real));
                    }
                }
            }
            out.add(Tensor.fromFloats(dtype, m, rows, hidden));
        }
        return out;
    }

    private static float[] configured(MergeConfig.TokenSource cfg, String token, int id, List<ModelRef> refs,
                                      List<int[]> perms, List<float[]> src, TokenizerMerge.Result vocab, int hidden,
                                      MergePlan.Entry entry) {
        if (cfg.kind().equals("zero")) {
            return new float[hidden];
        }
        int i = refs.indexOf(cfg.model());
        if (i < 0) {
            throw new CrucibleException("tokenizer.tokens." + token + ".source: " + cfg.model() + " is not an input of "
                    + entry.name());
        }
        int srcRow;
        if (cfg.kind().equals("model")) {
            srcRow = perms.get(i)[id];
            if (srcRow < 0) {
                throw new CrucibleException("tokenizer.tokens." + token + ".source: " + cfg.model()
                        + " does not have the token '" + token + "'");
            }
        } else {
            Integer tid = cfg.tokenId();
            if (tid == null) {
                tid = vocab.originalIds().get(cfg.model()).get(cfg.token());
                if (tid == null) {
                    throw new CrucibleException("tokenizer.tokens." + token + ".source.token: '" + cfg.token()
                            + "' is not in the vocabulary of " + cfg.model());
                }
            }
            srcRow = tid;
            if (srcRow < 0 || (long) (srcRow + 1) * hidden > src.get(i).length) {
                throw new CrucibleException("tokenizer.tokens." + token + ".source.token_id: " + srcRow
                        + " is out of range for " + cfg.model());
            }
        }
        return row(src.get(i), srcRow, hidden);
    }

    private static float[] row(float[] m, int r, int hidden) {
        float[] out = new float[hidden];
        System.arraycopy(m, r * hidden, out, 0, hidden);
        return out;
    }
}
