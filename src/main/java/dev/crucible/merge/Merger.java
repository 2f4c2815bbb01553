package dev.crucible.merge;

import dev.crucible.ProgressBar;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Runs a merge config end to end: validate and plan, stream the tensors into a staged directory, publish. */
public final class Merger {
    private Merger() {
    }

    /** Merges {@code configFile} into {@code outDir}; nothing appears at {@code outDir} unless the merge succeeds. */
    public static void merge(Path configFile, Path outDir, MergeOptions options, PrintStream err) {
        MergeConfig config = MergeConfig.read(configFile, options.baseDirs());
        try (MergePlan plan = MergePlan.build(config, options.allowCrimes())) {
            plan.warnings().forEach(w -> err.println("warning: " + w));
            merge(plan, outDir, options, err);
        }
    }

    /** Merges a built plan (its warnings already shown) into {@code outDir}, which the caller has checked. */
    public static void merge(MergePlan plan, Path outDir, MergeOptions options, PrintStream err) {
        MergeExecutor executor = new MergeExecutor(plan, options.threads(), options.memoryBudget(), options.seed());
        // Without out_dtype, the method decides the output dtype (arcee_fusion writes float32): learn it from the
        // smallest tensor before declaring the shards.
        Tensor probe = plan.config().outDtype == null ? executor.probe() : null;
        DType outDType = plan.config().outDtype != null ? plan.config().outDtype : probe.dtype();
        MergePlan.Entry probed = probe == null ? null : plan.entries().stream()
                .min(java.util.Comparator.comparingLong(MergePlan.Entry::numel)).orElseThrow();
        List<TensorSpec> specs = new ArrayList<>();
        long total = 0;
        for (MergePlan.Entry e : plan.entries()) {
            specs.add(new TensorSpec(e.name(), outDType, e.shape()));
            total += e.numel() * outDType.byteSize();
        }
        try (StagedDirectory staged = StagedDirectory.create(outDir);
             ShardedWriter writer = new ShardedWriter(staged.path(), specs, options.shardBytes(), Map.of("format", "pt"))) {
            ProgressBar progress = new ProgressBar(err, "merge", "tensors", options.showProgress()).expect(specs.size(), total);
            if (probed != null) {
                MergeExecutor.write(writer, probed, probe, outDType);
                progress.add(1, probed.numel() * outDType.byteSize());
            }
            executor.run(writer, outDType, probed == null ? null : probed.name(), progress);
            writer.finish(options.fsync());
            String name = plan.config().name != null ? plan.config().name : outDir.toAbsolutePath().normalize()
                    .getFileName().toString();
            MergeOutput.write(plan, staged.path(), options, name);
            staged.publish();
        }
    }

    /** The plan as text: every output tensor with inputs, parameters, shape, and the totals. */
    public static void describe(MergePlan plan, MergeOptions options, PrintStream out) {
        DType outDType = plan.config().outDtype != null ? plan.config().outDtype : plan.computeDType();
        out.println("merge_method: " + plan.method().name() + "   compute dtype: " + plan.computeDType().torchName()
                + "   output dtype: " + outDType.torchName() + (plan.config().outDtype == null
                ? " (unless the method returns another)" : ""));
        for (int i = 0; i < plan.models().size(); i++) {
            out.println("model " + i + ": " + plan.models().get(i).ref().spec() + " -> " + plan.models().get(i).ref().path()
                    + (plan.models().get(i).ref().lora() != null ? " + LoRA " + plan.models().get(i).ref().lora() : ""));
        }
        long write = 0;
        for (MergePlan.Entry e : plan.entries()) {
            String inputs = e.inputs().stream().map(in -> in.model() + ":" + in.tensor()
                    + (e.inputs().indexOf(in) == e.baseIndex() ? " (base)" : "")).collect(Collectors.joining(", "));
            out.println(e.name() + " " + outDType.safetensorsName() + Shape.toString(e.shape()) + " <- " + inputs
                    + "  " + plan.method().name() + " " + params(e));
            write += e.numel() * outDType.byteSize();
        }
        if (plan.vocabulary() != null) {
            out.println("vocabulary: " + plan.vocabulary().tokens().size() + " tokens, " + plan.vocabulary().size()
                    + " rows (tokenizer source " + plan.config().tokenizer.source() + ")");
        }
        out.println("output: " + plan.entries().size() + " tensors, " + plan.outputConfig().path("num_hidden_layers")
                .asInt() + " layers, vocab_size " + plan.outputConfig().path("vocab_size").asLong());
        out.printf("bytes to read: %s   bytes to write: %s   estimated peak memory: %s (the buffers %d"
                        + " threads keep, each grown to one of the largest tensors; the JVM adds about 180 MB)%n",
                ProgressBar.bytes(plan.bytesToRead()), ProgressBar.bytes(write),
                ProgressBar.bytes(MergeEstimate.peakBytes(plan, options.threads())),
                options.threads());
    }

    /**
     * The plan's expected wall time, calibrated on its inputs (nothing written), as one line.
     *
     * @param startSeconds what the command took so far (reading the config, planning)
     * @param outDir       where the merge would write (probed for its write rate, nothing left there)
     */
    public static void estimate(MergePlan plan, MergeOptions options, double startSeconds, Path outDir, PrintStream out) {
        out.println(MergeEstimate.of(plan, options, startSeconds, outDir).describe(plan.method().name()));
    }

    private static String params(MergePlan.Entry e) {
        StringBuilder sb = new StringBuilder();
        if (!e.globalParameters().isEmpty()) {
            sb.append(e.globalParameters());
        }
        for (int i = 0; i < e.modelParameters().size(); i++) {
            if (!e.modelParameters().get(i).isEmpty()) {
                sb.append(" ").append(i).append(":").append(e.modelParameters().get(i));
            }
        }
        return sb.toString().trim();
    }
}
