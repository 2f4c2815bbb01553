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
            for (String name : converterOrder(checkpoint)) {
                if (!family.keep(name)) {
                    continue;
                }
                Tensor t = checkpoint.tensor(name);
                if (!t.dtype().isFloatingPoint()) {
                    throw new CrucibleException(dir + ": tensor '" + name + "' has dtype " + t.dtype()
                            + "; crucible export gguf converts float checkpoints");
                }
                tensors.addAll(family.modify(hp, name, new ConverterFamily.Planned(name, t.shape(), Rows.of(t), t.dtype())));
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

    /** The converter's order: shards sorted by file name, tensors sorted by name within a shard. */
    private static List<String> converterOrder(Checkpoint checkpoint) {
        Map<String, List<String>> byShard = new TreeMap<>();
        for (SafetensorsFile shard : checkpoint.shards()) {
            byShard.computeIfAbsent(shard.path().getFileName().toString(), k -> new ArrayList<>())
                    .addAll(shard.tensors().keySet());
        }
        List<String> out = new ArrayList<>();
        for (List<String> names : byShard.values()) {
            names.sort(null);
            out.addAll(names);
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
