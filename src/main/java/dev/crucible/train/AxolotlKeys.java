package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.KeySuggestion;
import dev.crucible.io.YamlFile;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * The keys of an Axolotl config that {@code crucible sft} does not implement, and what it says about them. Axolotl's
 * own schema (its top-level keys, listed in {@code axolotl-keys.txt} by {@code tools/axolotl_config_keys.py}) accepts
 * them, so a config copied from Axolotl runs: hardware and integration keys get a one-line note of what happens on the
 * CPU instead, other Axolotl keys a warning that they are ignored, and a few that would make the run something else
 * than supervised fine-tuning are errors. A key neither Crucible nor Axolotl knows is most likely a typo: an error,
 * unless the config says {@code strict: false}, which turns it into a warning. (Axolotl itself drops unknown keys
 * silently; its {@code strict} governs command-line overrides, which {@code crucible sft} does not take.)
 */
final class AxolotlKeys {
    private static final Set<String> SCHEMA = load();

    /** Groups of keys that get one note each, in the order they are printed. */
    private record Group(Predicate<String> keys, String note) {
    }

    private static final List<Group> NOTES = List.of(
            new Group(set("bf16", "fp16", "tf32", "bfloat16", "float16", "float32", "fp8", "fp8_enable_fsdp_float8_all_gather"),
                    "training computes in float32 on the CPU (weights are read from their stored dtype), so mixed"
                            + " precision does not apply"),
            new Group(set("flash_attention", "sdp_attention", "xformers_attention", "flex_attention", "s2_attention",
                    "eager_attention", "attn_implementation", "flash_attn_cross_entropy", "flash_attn_rms_norm",
                    "flash_attn_fuse_qkv", "flash_attn_fuse_mlp", "sample_packing_bin_size", "sample_packing_group_size"),
                    "attention runs Crucible's CPU kernel (block-diagonal over packed sequences); GPU attention kernels"
                            + " do not apply"),
            new Group(set("load_in_8bit"), "the base is not quantised to 8 bits (bitsandbytes is GPU-only): it stays in"
                    + " float32; load_in_4bit (or adapter: qlora) gives an NF4 base"),
            new Group(set("gradient_checkpointing_kwargs", "activation_offloading"), "gradient checkpointing recomputes"
                    + " each decoder layer in the backward pass; these options of torch's checkpointing do not apply"),
            new Group(k -> k.equals("deepspeed") || k.startsWith("fsdp") || k.startsWith("ddp") || k.equals("world_size")
                    || k.endsWith("_parallel_size") || k.equals("sequence_parallel_degree") || k.equals("local_rank"),
                    "one process trains on the CPU's cores: no DeepSpeed, FSDP or DDP sharding"),
            new Group(k -> k.startsWith("torch_compile") || k.startsWith("liger_") || k.startsWith("unsloth_")
                    || k.equals("plugins") || k.equals("cut_cross_entropy") || k.startsWith("lora_") && k.endsWith("_kernel"),
                    "Crucible's Java kernels run; torch.compile, Liger, Unsloth and other kernel plugins do not apply"),
            new Group(k -> k.startsWith("wandb_") || k.startsWith("mlflow_") || k.startsWith("comet_")
                    || k.startsWith("trackio_") || k.startsWith("swanlab_") || k.startsWith("use_wandb")
                    || k.equals("use_mlflow") || k.equals("use_comet") || k.equals("use_tensorboard")
                    || k.equals("use_trackio") || k.equals("use_swanlab") || k.startsWith("otel_") || k.equals("use_otel_metrics"),
                    "metrics go to output_dir/metrics.jsonl and loss.html; no experiment tracker is contacted"),
            new Group(set("device_map", "max_memory", "gpu_memory_limit", "low_cpu_mem_usage", "ddp_find_unused_parameters"),
                    "the weights are memory-mapped and everything runs on the CPU"),
            new Group(k -> k.startsWith("hub_") || k.equals("push_dataset_to_hub") || k.equals("hf_use_auth_token"),
                    "nothing is uploaded: the output stays in output_dir"),
            new Group(set("dataset_prepared_path", "dataset_processes", "dataset_num_proc", "dataset_keep_in_memory"),
                    "datasets are read and tokenised in memory on each run; nothing is cached"),
            new Group(set("base_model_config", "model_type", "tokenizer_type", "tokenizer_config", "trust_remote_code",
                    "tokenizer_use_fast", "tokenizer_legacy", "is_llama_derived_model", "is_mistral_derived_model",
                    "is_qwen_derived_model", "is_falcon_derived_model"),
                    "the model and tokenizer are read from base_model's config.json and tokenizer.json"),
            new Group(set("eval_sample_packing"), "validation sequences are packed whenever sample_packing is on"));

    /** Axolotl keys that would make the run something Crucible cannot train, or change its data in a way it cannot. */
    private static final Map<String, String> FATAL = Map.of(
            "reward_model", "reward-model training is not implemented",
            "process_reward_model", "process-reward-model training is not implemented",
            "pretraining_dataset", "streaming pre-training datasets are not implemented; list the files under datasets",
            "tokens", "adding new tokens (which resizes the embeddings) is not implemented",
            "added_tokens_overrides", "changing the vocabulary is not implemented");

    private AxolotlKeys() {
    }

    /**
     * Checks the keys of a config that Crucible does not implement. {@code implemented} are Crucible's keys; returns
     * the notes and warnings to print, one line each.
     */
    static List<String> check(YamlFile yaml, Map<?, ?> map, Set<String> implemented, boolean strict) {
        Set<String> typos = new TreeSet<>();
        Set<String> ignored = new TreeSet<>();
        Map<Group, Set<String>> noted = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (implemented.contains(key)) {
                continue;
            }
            if (!SCHEMA.contains(key)) {
                typos.add(key);
                continue;
            }
            if (!isSet(e.getValue())) {
                continue; // `wandb_project:` with nothing after it, `bf16: false`: nothing to say
            }
            if (FATAL.containsKey(key)) {
                throw yaml.error(key, "'" + key + "': " + FATAL.get(key));
            }
            Group group = NOTES.stream().filter(g -> g.keys().test(key)).findFirst().orElse(null);
            if (group != null) {
                noted.computeIfAbsent(group, g -> new TreeSet<>()).add(key);
            } else if (!key.equals("optimizer")) {
                ignored.add(key);
            }
        }
        if (!typos.isEmpty() && strict) {
            throw yaml.error(typos.iterator().next(), "unknown key" + (typos.size() > 1 ? "s " : " ") + typos
                    + KeySuggestion.didYouMean(typos, implemented) + " (neither a Crucible nor an Axolotl key; strict: false turns"
                    + " unknown keys into warnings)");
        }
        List<String> out = new ArrayList<>();
        Object optimizer = map.get("optimizer");
        if (isSet(optimizer)) {
            String name = String.valueOf(optimizer);
            if (!name.equals("adamw_torch") && !name.equals("adamw_torch_fused")) { // what Crucible computes
                out.add(name.startsWith("adamw") || name.startsWith("paged_adamw")
                        ? "note: optimizer " + name + ": AdamW runs with float32 state, as torch computes it (adamw_torch)"
                        : "warning: optimizer " + name + " is not implemented: AdamW is used (adamw_torch)");
            }
        }
        noted.forEach((group, keys) -> out.add("note: " + String.join(", ", keys) + ": " + group.note()));
        if (!ignored.isEmpty()) {
            out.add("warning: ignored Axolotl key" + (ignored.size() > 1 ? "s" : "") + " that Crucible does not"
                    + " implement: " + String.join(", ", ignored));
        }
        if (!typos.isEmpty()) {
            out.add("warning: ignored unknown key" + (typos.size() > 1 ? "s " : " ") + typos
                    + KeySuggestion.didYouMean(typos, implemented) + " (strict: false)");
        }
        return out;
    }

    /** Whether a YAML value says something: not null, false, an empty string, list or mapping. */
    private static boolean isSet(Object v) {
        return v != null && !Boolean.FALSE.equals(v) && !(v instanceof String s && s.isBlank())
                && !(v instanceof List<?> l && l.isEmpty()) && !(v instanceof Map<?, ?> m && m.isEmpty());
    }

    private static Predicate<String> set(String... keys) {
        Set<String> s = Set.of(keys);
        return s::contains;
    }

    private static Set<String> load() {
        Set<String> keys = new TreeSet<>();
        try (InputStream in = AxolotlKeys.class.getResourceAsStream("axolotl-keys.txt")) {
            if (in == null) {
                throw new IllegalStateException("axolotl-keys.txt is missing from the jar");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    keys.add(line.strip());
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read axolotl-keys.txt", e);
        }
        return keys;
    }
}
