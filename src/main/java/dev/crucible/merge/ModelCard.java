package dev.crucible.merge;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The README.md model card mergekit writes: method, base, models merged and the verbatim YAML config. */
final class ModelCard {
    /** Display names and references of mergekit's methods, as its model cards link them. */
    private static final Map<String, String[]> METHODS = Map.ofEntries(
            Map.entry("linear", new String[]{"Linear", "https://arxiv.org/abs/2203.05482"}),
            Map.entry("slerp", new String[]{"SLERP", "https://en.wikipedia.org/wiki/Slerp"}),
            Map.entry("nuslerp", new String[]{"NuSLERP", null}),
            Map.entry("multislerp", new String[]{"Multi-SLERP", "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea"}),
            Map.entry("karcher", new String[]{"Karcher Mean", "https://en.wikipedia.org/wiki/Karcher_mean"}),
            Map.entry("task_arithmetic", new String[]{"Task Arithmetic", "https://arxiv.org/abs/2212.04089"}),
            Map.entry("ties", new String[]{"TIES", "https://arxiv.org/abs/2306.01708"}),
            Map.entry("dare_ties", new String[]{"DARE TIES", "https://arxiv.org/abs/2311.03099"}),
            Map.entry("dare_linear", new String[]{"Linear DARE", "https://arxiv.org/abs/2311.03099"}),
            Map.entry("breadcrumbs", new String[]{"Model Breadcrumbs", "https://arxiv.org/abs/2312.06795"}),
            Map.entry("breadcrumbs_ties", new String[]{"Model Breadcrumbs with TIES", "https://arxiv.org/abs/2312.06795"}),
            Map.entry("della", new String[]{"DELLA", "https://arxiv.org/abs/2406.11617"}),
            Map.entry("della_linear", new String[]{"Linear DELLA", "https://arxiv.org/abs/2406.11617"}),
            Map.entry("model_stock", new String[]{"Model Stock", "https://arxiv.org/abs/2403.19522"}),
            Map.entry("nearswap", new String[]{"NearSwap", "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001"}),
            Map.entry("sce", new String[]{"SCE", "https://arxiv.org/abs/2408.07990"}),
            Map.entry("arcee_fusion", new String[]{"Arcee Fusion", "https://arcee.ai"}),
            Map.entry("ram", new String[]{"Reinforced Agent Merging", "https://arxiv.org/abs/2601.13572"}),
            Map.entry("ramplus_tl", new String[]{"Reinforced Agent Merging Plus (Tensor-Local)", "https://arxiv.org/abs/2601.13572"}),
            Map.entry("passthrough", new String[]{"Passthrough", null}));

    private ModelCard() {
    }

    static String render(MergeConfig config, String name) {
        String[] m = METHODS.get(config.mergeMethod);
        String method = m == null ? config.mergeMethod : m[1] == null ? m[0] : "[" + m[0] + "](" + m[1] + ")";
        // mergekit names no base for slerp, whose base is just the t = 0 end.
        ModelRef base = config.mergeMethod.equals("slerp") ? null : config.baseModel;
        List<String> bullets = new ArrayList<>();
        for (ModelRef r : config.referencedModels()) {
            if (!r.equals(base)) {
                bullets.add("* " + label(r));
            }
        }
        return "---\nbase_model: []\nlibrary_name: transformers\ntags:\n- mergekit\n- merge\n\n---\n# " + name + "\n\n"
                + "This is a merge of pre-trained language models created using [mergekit](https://github.com/cg123/mergekit)"
                + " (compatible config, merged by Crucible).\n\n"
                + "## Merge Details\n### Merge Method\n\n"
                + "This model was merged using the " + method + " merge method"
                + (base == null ? "" : " using " + label(base) + " as a base") + ".\n\n"
                + "### Models Merged\n\nThe following models were included in the merge:\n"
                + String.join("\n", bullets) + "\n\n"
                + "### Configuration\n\nThe following YAML configuration was used to produce this model:\n\n"
                + "```yaml\n" + config.sourceText + "\n```\n";
    }

    private static String label(ModelRef r) {
        int plus = r.spec().indexOf('+');
        return r.lora() == null || plus < 0 ? r.spec() : r.spec().substring(0, plus) + " + " + r.spec().substring(plus + 1);
    }
}
