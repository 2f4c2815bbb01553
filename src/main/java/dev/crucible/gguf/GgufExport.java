package dev.crucible.gguf;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.tensor.FloatFormats;
import dev.crucible.tensor.Parallel;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code crucible export gguf}: converts a Hugging Face model directory to GGUF files of one or several types in
 * one pass over the weights. Each checkpoint tensor is read once, in row chunks on the worker pool, turned into
 * float32 rows the way llama.cpp's converter does, and every output receives its rows converted or quantised at
 * their place in its file; memory holds a few chunks, whatever the model's size. Outputs appear only when
 * complete (temporary sibling, then rename) and can never replace an input file.
 */
public final class GgufExport {
    /** Values per parallel task: large enough to amortise the hand-off, small enough to keep memory flat. */
    private static final int TASK_VALUES = 1 << 17;

    /** One written file. */
    public record Result(OutType type, Path path, long bytes) {
    }

    private GgufExport() {
    }

    /** The file name llama.cpp's tools give {@code type} for the model in {@code modelDir}. */
    public static String defaultFileName(Path modelDir, OutType type, String pre) {
        try (ConversionPlan plan = ConversionPlan.create(modelDir, pre)) {
            return defaultName(plan, type);
        }
    }

    private static String defaultName(ConversionPlan plan, OutType type) {
        GeneralMetadata g = GeneralMetadata.load(plan.dir, ConversionPlan.parameterCounts(plan.tensors)[0]);
        if (g.sizeLabel == null) {
            long[] c = ConversionPlan.parameterCounts(plan.tensors);
            g.sizeLabel = GeneralMetadata.sizeLabel(c[0], c[1], c[2], c[3]);
        }
        return g.fileName(type.name()) + ".gguf";
    }

    /**
     * Writes {@code outputs} (type to file). {@code pre} names the BPE pre-tokenizer of a tokenizer llama.cpp's
     * table does not know. The caller has checked the outputs against the model directory (io.OutputCheck); this
     * checks them against the files the export actually reads, and against each other.
     */
    public static List<Result> export(Path modelDir, Map<OutType, Path> outputs, String pre, ProgressBar progress) {
        try (ConversionPlan plan = ConversionPlan.create(modelDir, pre)) {
            Map<OutType, Path> targets = new LinkedHashMap<>(outputs);
            checkTargets(plan, targets);
            List<Output> outs = new ArrayList<>();
            try {
                for (Map.Entry<OutType, Path> e : targets.entrySet()) {
                    outs.add(Output.create(plan, e.getKey(), e.getValue()));
                }
                write(plan, outs, progress);
                List<Result> results = new ArrayList<>();
                for (Output o : outs) {
                    o.writer.finish(false);
                    results.add(new Result(o.type, o.writer.target(), o.writer.fileSize()));
                }
                return results;
            } finally {
                outs.forEach(o -> o.writer.close());
            }
        }
    }

    private static void checkTargets(ConversionPlan plan, Map<OutType, Path> targets) {
        List<Path> inputs = new ArrayList<>();
        for (Path f : plan.sourceFiles()) {
            inputs.add(real(f));
        }
        Map<Path, OutType> seen = new HashMap<>();
        for (Map.Entry<OutType, Path> e : targets.entrySet()) {
            Path target = real(e.getValue());
            if (inputs.contains(target)) {
                throw new CrucibleException(e.getValue() + ": is an input of the export; choose another output path");
            }
            OutType other = seen.put(target, e.getKey());
            if (other != null) {
                throw new CrucibleException(e.getValue() + ": named for both " + other.cliName() + " and "
                        + e.getKey().cliName());
            }
        }
    }

    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            return Files.exists(abs) ? abs.toRealPath() : abs;
        } catch (IOException e) {
            return abs;
        }
    }

    /** One output file: its writer and, per planned tensor, the type and name it is written under. */
    private static final class Output {
        final OutType type;
        final GgufWriter writer;
        final Map<String, GgmlType> types;

        private Output(OutType type, GgufWriter writer, Map<String, GgmlType> types) {
            this.type = type;
            this.writer = writer;
            this.types = types;
        }

        static Output create(ConversionPlan plan, OutType type, Path target) {
            Map<String, GgmlType> types = new LinkedHashMap<>();
            List<GgufWriter.Tensor> declared = new ArrayList<>();
            GgufMetadata kv;
            if (type.converter) {
                kv = plan.metadata(type);
                for (ConverterFamily.Planned t : plan.tensors) {
                    GgmlType g = ConversionPlan.converterType(t, type);
                    types.put(t.name(), g);
                    declared.add(new GgufWriter.Tensor(t.name(), GgufTensorInfo.dimsOf(t.shape()), g));
                }
            } else {
                kv = quantizedMetadata(plan, type);
                List<QuantizeRecipe.Input> inputs = new ArrayList<>();
                for (ConverterFamily.Planned t : plan.tensors) {
                    inputs.add(new QuantizeRecipe.Input(t.name(), GgufTensorInfo.dimsOf(t.shape()), GgmlType.F32));
                }
                List<QuantizeRecipe.Input> planned;
                try {
                    planned = QuantizeRecipe.plan(type, model(plan), inputs);
                } catch (IllegalStateException e) {
                    throw new CrucibleException(plan.dir + ": cannot quantise to " + type.cliName() + ": "
                            + e.getMessage() + " (llama-quantize fails the same way)");
                }
                for (QuantizeRecipe.Input t : planned) {
                    types.put(t.name(), t.type());
                    long[] dims = java.util.Arrays.copyOf(t.dims(), QuantizeRecipe.nDims(t.dims()));
                    declared.add(new GgufWriter.Tensor(t.name(), dims, t.type()));
                }
            }
            return new Output(type, GgufWriter.create(target, kv, declared), types);
        }
    }

    /** llama-quantize's metadata: the input's, then quantization_version and file_type moved to the end. */
    private static GgufMetadata quantizedMetadata(ConversionPlan plan, OutType type) {
        GgufMetadata kv = new GgufMetadata(plan.metadata(OutType.F32));
        kv.set("general.quantization_version", GgufValue.uint32(2));
        kv.set("general.file_type", GgufValue.uint32(type.fileType));
        return kv;
    }

    private static QuantizeRecipe.Model model(ConversionPlan plan) {
        var hp = plan.hp;
        int heads = hp.intValue("num_attention_heads");
        int kvHeads = hp.has("num_key_value_heads") ? hp.intValue("num_key_value_heads") : heads;
        var experts = hp.find(List.of("num_local_experts", "num_experts", "n_routed_experts"));
        return new QuantizeRecipe.Model(plan.family.arch, plan.blocks, heads, kvHeads,
                experts == null || experts.isNull() ? 0 : experts.asInt());
    }

    private static void write(ConversionPlan plan, List<Output> outs, ProgressBar progress) {
        long totalValues = 0;
        for (ConverterFamily.Planned t : plan.tensors) {
            totalValues += t.rows().rows() * t.rows().rowLength();
        }
        progress.expect(plan.tensors.size(), totalValues * 4);
        for (ConverterFamily.Planned t : plan.tensors) {
            Rows rows = t.rows();
            int len = rows.rowLength();
            int rowsPerTask = Math.max(1, TASK_VALUES / len);
            long nRows = rows.rows();
            int tasks = (int) ((nRows + rowsPerTask - 1) / rowsPerTask);
            Parallel.forEach(tasks, nRows * len, task -> {
                long first = (long) task * rowsPerTask;
                int count = (int) Math.min(rowsPerTask, nRows - first);
                float[] values = new float[count * len];
                rows.read(first, count, values, 0);
                for (Output o : outs) {
                    GgmlType type = o.types.get(t.name());
                    byte[] bytes = encode(type, values, count * len);
                    o.writer.write(t.name(), first * type.rowBytes(len), MemorySegment.ofArray(bytes));
                }
            });
            progress.add(1, nRows * len * 4);
        }
    }

    /** float32 values as {@code type}'s bytes (little-endian). */
    static byte[] encode(GgmlType type, float[] v, int n) {
        byte[] out = new byte[(int) type.bytes(n)];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    int b = Float.floatToRawIntBits(v[i]);
                    out[4 * i] = (byte) b;
                    out[4 * i + 1] = (byte) (b >> 8);
                    out[4 * i + 2] = (byte) (b >> 16);
                    out[4 * i + 3] = (byte) (b >> 24);
                }
            }
            case F16, BF16 -> {
                for (int i = 0; i < n; i++) {
                    short h = type == GgmlType.F16 ? Float.floatToFloat16(v[i]) : FloatFormats.floatToBf16(v[i]);
                    out[2 * i] = (byte) h;
                    out[2 * i + 1] = (byte) (h >> 8);
                }
            }
            default -> {
                BlockQuant q = BlockQuant.of(type);
                if (q == null || !q.canQuantize()) {
                    throw new IllegalStateException("no quantiser for " + type);
                }
                q.quantize(v, 0, n, out, 0);
            }
        }
        return out;
    }
}
