package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What llama.cpp's converter would write for a Hugging Face model directory, before any byte is written: the
 * tensors in its order (extra tensors first, then the checkpoint's tensors, shard by shard in file-name order
 * and by name within a shard) with their GGUF names, shapes and rows, and the metadata for each output type.
 * The checkpoint stays memory-mapped; rows are read when written.
 */
final class ConversionPlan implements AutoCloseable {
    final Path dir;
    final HfHparams hp;
    final ConverterFamily family;
    final int blocks;
    final List<ConverterFamily.Planned> tensors;
    private final Checkpoint checkpoint;
    private final GgufMetadata extraKv;
    private final GgufMetadata vocabKv;
    private final GeneralMetadata general;

    private ConversionPlan(Path dir, HfHparams hp, ConverterFamily family, int blocks, Checkpoint checkpoint,
                           List<ConverterFamily.Planned> tensors, GgufMetadata extraKv, GgufMetadata vocabKv,
                           GeneralMetadata general) {
        this.dir = dir;
        this.hp = hp;
        this.family = family;
        this.blocks = blocks;
        this.checkpoint = checkpoint;
        this.tensors = tensors;
        this.extraKv = extraKv;
        this.vocabKv = vocabKv;
        this.general = general;
    }

    /** Plans the conversion of {@code dir}; {@code pre} names the BPE pre-tokenizer when its hash is unknown. */
    static ConversionPlan create(Path dir, String pre) {
        HfHparams hp = HfHparams.read(dir);
        ConverterFamily family = ConverterFamily.forModel(hp, dir);
        JsonNode blockCount = hp.require(List.of("n_layers", "num_hidden_layers", "n_layer", "num_layers"));
        Checkpoint checkpoint = Checkpoint.open(dir);
        try {
            GgufMetadata extraKv = new GgufMetadata();
            List<ConverterFamily.Planned> tensors = new ArrayList<>(family.extraTensors(hp, extraKv));
            for (ConverterFamily.Planned source : converterOrder(checkpoint)) {
                String name = source.name();
                if (!family.keep(name)) {
                    continue;
                }
                if (!source.sourceDtype().isFloatingPoint()) {
                    throw new CrucibleException(dir + ": tensor '" + name + "' has dtype " + source.sourceDtype()
                            + "; crucible export gguf converts float checkpoints");
                }
                tensors.addAll(family.modify(hp, name, source));
            }
            if (!family.leftovers().isEmpty()) {
                throw new CrucibleException(dir + ": unprocessed experts " + family.leftovers());
            }
            GgufMetadata vocabKv = new GgufMetadata();
            family.vocab(dir, hp, vocabKv, pre);
            long[] counts = parameterCounts(tensors);
            GeneralMetadata general = GeneralMetadata.load(dir, counts[0]);
            if (general.sizeLabel == null && counts[0] > 0) {
                general.sizeLabel = GeneralMetadata.sizeLabel(counts[0], counts[1], counts[2], counts[3]);
            }
            return new ConversionPlan(dir, hp, family, blockCount.asInt(), checkpoint, List.copyOf(tensors), extraKv,
                    vocabKv, general);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * The checkpoint's tensors in the converter's order: shards sorted by file name, tensors sorted by name within a
     * shard. transformers 5's fused Mixtral experts ({@code mlp.experts.gate_up_proj} [E, 2I, H], {@code down_proj}
     * [E, H, I], router {@code mlp.gate}), which llama.cpp's converter cannot map, are seen as the per-expert
     * tensors they hold ({@code block_sparse_moe.experts.e.w1/w2/w3}, {@code block_sparse_moe.gate}): the file is
     * then the one the converter writes for the same model saved per expert (as `crucible moe` writes it fused).
     */
    private static List<ConverterFamily.Planned> converterOrder(Checkpoint checkpoint) {
        Map<String, Map<String, ConverterFamily.Planned>> byShard = new TreeMap<>();
        for (SafetensorsFile shard : checkpoint.shards()) {
            Map<String, ConverterFamily.Planned> entries = byShard.computeIfAbsent(
                    shard.path().getFileName().toString(), k -> new TreeMap<>());
            for (String name : shard.tensors().keySet()) {
                Tensor t = checkpoint.tensor(name);
                ConverterFamily.Planned p = new ConverterFamily.Planned(name, t.shape(), Rows.of(t), t.dtype());
                for (ConverterFamily.Planned e : perExpert(p)) {
                    entries.put(e.name(), e);
                }
            }
        }
        List<ConverterFamily.Planned> out = new ArrayList<>();
        byShard.values().forEach(m -> out.addAll(m.values()));
        return out;
    }

    private static final Pattern FUSED = Pattern.compile("^model\\.layers\\.(\\d+)\\.mlp\\.(experts\\.gate_up_proj|experts\\.down_proj|gate\\.weight)$");

    /** A fused Mixtral tensor as its per-expert parts; any other tensor as itself. */
    private static List<ConverterFamily.Planned> perExpert(ConverterFamily.Planned t) {
        Matcher m = FUSED.matcher(t.name());
        if (!m.matches() || (t.shape().length != 3 && !m.group(2).equals("gate.weight"))) {
            return List.of(t);
        }
        String prefix = "model.layers." + m.group(1) + ".block_sparse_moe.";
        if (m.group(2).equals("gate.weight")) {
            return List.of(new ConverterFamily.Planned(prefix + "gate.weight", t.shape(), t.rows(), t.sourceDtype()));
        }
        long experts = t.shape()[0];
        long rows = t.shape()[1];
        long cols = t.shape()[2];
        List<ConverterFamily.Planned> out = new ArrayList<>();
        for (long e = 0; e < experts; e++) {
            String p = prefix + "experts." + e + ".";
            if (m.group(2).equals("experts.down_proj")) {
                out.add(new ConverterFamily.Planned(p + "w2.weight", new long[] {rows, cols},
                        Rows.slice(t.rows(), e * rows, rows), t.sourceDtype()));
            } else {
                long inter = rows / 2;
                out.add(new ConverterFamily.Planned(p + "w1.weight", new long[] {inter, cols},
                        Rows.slice(t.rows(), e * rows, inter), t.sourceDtype()));
                out.add(new ConverterFamily.Planned(p + "w3.weight", new long[] {inter, cols},
                        Rows.slice(t.rows(), e * rows + inter, inter), t.sourceDtype()));
            }
        }
        return out;
    }

    /** gguf-py's get_total_parameter_count: {total, shared, expert, expert count}. */
    static long[] parameterCounts(List<ConverterFamily.Planned> tensors) {
        long total = 0;
        long shared = 0;
        long expert = 0;
        long expertSum = 0;
        long expertTensors = 0;
        for (ConverterFamily.Planned t : tensors) {
            long size = 1;
            for (long d : t.shape()) {
                size *= d;
            }
            if (t.name().contains("_exps.") && t.shape().length >= 3) {
                long count = t.shape()[t.shape().length - (t.name().contains(".bias") ? 2 : 3)];
                expert += size / count;
                expertSum += count;
                expertTensors++;
            } else {
                shared += size;
            }
            total += size;
        }
        return new long[] {total, shared, expert, expertTensors > 0 ? expertSum / expertTensors : 0};
    }

    /** The converter's metadata for {@code type} (f32, f16, bf16 or q8_0). */
    GgufMetadata metadata(OutType type) {
        GgufMetadata kv = new GgufMetadata();
        kv.put("general.architecture", GgufValue.string(family.arch));
        extraKv.entries().forEach(kv::put);
        kv.put("general.type", GgufValue.string("model"));
        general.write(kv);
        family.parameters(hp, kv, blocks, type);
        kv.put("general.quantization_version", GgufValue.uint32(2));
        vocabKv.entries().forEach(kv::put);
        return kv;
    }

    /**
     * The type the converter gives a tensor: float32 for vectors, norms, MoE routers and non-weights, else the
     * output type's, with Q8_0 falling back to F16 for rows that are not whole blocks of 32.
     */
    static GgmlType converterType(ConverterFamily.Planned t, OutType type) {
        String name = t.name();
        long[] shape = t.shape();
        if (shape.length <= 1 || name.endsWith("_norm.weight") || isAlwaysF32(name) || !name.endsWith(".weight")) {
            return GgmlType.F32;
        }
        if (type == OutType.Q8_0 && shape[shape.length - 1] % 32 != 0) {
            return GgmlType.F16;
        }
        return type.defaultType;
    }

    /** The converter's always-float32 tensors among the families Crucible exports (MoE routers). */
    private static boolean isAlwaysF32(String name) {
        return name.matches("blk\\.\\d+\\.ffn_gate_inp(_shexp)?\\.weight") || name.equals("position_embd.weight")
                || name.equals("token_types.weight");
    }

    /** Bytes the source checkpoint occupies, for progress. */
    long sourceBytes() {
        return checkpoint.totalBytes();
    }

    /** The checkpoint files, so that an output cannot replace one. */
    List<Path> sourceFiles() {
        List<Path> files = new ArrayList<>();
        for (SafetensorsFile f : checkpoint.shards()) {
            files.add(f.path());
        }
        files.add(dir.resolve("config.json"));
        return files;
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
