package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.train.Calibration;
import dev.crucible.train.MemoryPlan;
import dev.crucible.train.PreferenceObjective;
import dev.crucible.train.TrainConfig;
import dev.crucible.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code crucible plan}: before a training run, what each method needs in memory on this machine and how fast it is
 * expected to go, as a table with a recommendation. Memory comes from {@link MemoryPlan} (the trainer's own layout
 * replayed), speed from {@link Calibration} (a few real steps per method, scaled by the step's FLOPs).
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Before training: the memory each method needs for this model (weights, NF4 base, gradients, AdamW"
                + " state, activations with and without gradient checkpointing) and the tokens/s expected from a short"
                + " calibration on this machine, with a recommendation.",
                "Give a model directory, or a training config (crucible train's YAML): its base model, micro-batch,"
                        + " sequence length, adapter settings and rl: method are planned for."})
final class PlanCommand implements Callable<Integer> {
    private static final List<String> METHODS = List.of("full", "lora", "dora", "qlora", "qdora");

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL_DIR_OR_CONFIG.yml")
    Path target;

    @Option(names = "--method", split = ",", paramLabel = "METHOD",
            description = "methods to plan, in order of preference: full, lora, dora, qlora, qdora (default: full,lora,"
                    + "dora,qlora; with a config, its own method first)")
    List<String> methods;

    @Option(names = "--batch", paramLabel = "N", description = "sequences per micro-batch (default: the config's"
            + " micro_batch_size, else 4)")
    Integer batch;

    @Option(names = "--seq", paramLabel = "N", description = "tokens per sequence (default: the config's sequence_len,"
            + " else 512)")
    Integer seq;

    @Option(names = "--memory", paramLabel = "SIZE", description = "memory to plan for instead of this machine's"
            + " (e.g. 16GiB; k/m/g are decimal, KiB/MiB/GiB binary)")
    String memory;

    @Option(names = "--gpu-memory", paramLabel = "SIZE", description = "also say whether the tensors fit in a GPU of"
            + " this much memory (e.g. 24GiB, 80GB)")
    String gpuMemory;

    @Option(names = "--calibration-seq", paramLabel = "N", description = "tokens of the one sequence each"
            + " calibration step trains (default: --seq, at most 256)")
    Integer calibrationSeq;

    @Option(names = "--no-calibrate", description = "skip the calibration: memory only, no tokens/s")
    boolean noCalibrate;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Plan plan = plan();
        long memoryBytes = memory != null ? MergekitOptions.bytes(memory, "--memory") : physicalMemory();
        Long gpuBytes = gpuMemory != null ? MergekitOptions.bytes(gpuMemory, "--gpu-memory") : null;
        int calibration = calibrationSeq != null ? calibrationSeq : Math.min(plan.seq, 256);
        OptionChecks.atLeast(1, calibration, "--calibration-seq");
        int cores = Runtime.getRuntime().availableProcessors();
        ModelDirectory model = ModelDirectory.open(plan.base);
        MemoryPlan.Model shapes = MemoryPlan.Model.of(model);
        out.printf(Locale.ROOT, "%s: %,d parameters; %d × %d tokens per micro-batch%s%n", plan.base, shapes.parameters(),
                plan.rows, plan.seq, plan.preference != null ? " (" + plan.preference.method().configName()
                        + (plan.preference.method().paired() ? ": chosen and rejected" : "") + ")" : "");
        out.printf(Locale.ROOT, "this machine: %d cores, %s memory%s%n", cores, MemoryPlan.size(memoryBytes),
                memory != null ? " (--memory)" : "");
        List<Row> rows = new ArrayList<>();
        Set<Trainer.Method> calibrationSkipped = EnumSet.noneOf(Trainer.Method.class);
        for (Trainer.Method method : plan.methods) {
            Trainer.Lora lora = method == Trainer.Method.FULL ? null : plan.lora;
            Calibration.Rate rate = null;
            for (boolean checkpointing : new boolean[]{false, true}) {
                Trainer.Settings s = settings(method, lora, plan.rows, plan.seq, checkpointing);
                MemoryPlan.Estimate e = MemoryPlan.estimate(shapes, MemoryPlan.Run.of(s, plan.preference, plan.rows,
                        plan.seq, cores));
                boolean fits = e.expectedRss() <= memoryBytes;
                if (!noCalibrate && rate == null && fits && !calibrationSkipped.contains(method)) {
                    long heap = Calibration.estimate(shapes, method, lora, 1, calibration).recommendedHeap();
                    if (heap > Runtime.getRuntime().maxMemory()) {
                        err.printf(Locale.ROOT, "note: no calibration of %s: it needs a heap of %s, this JVM has %s"
                                        + " (CRUCIBLE_JAVA_OPTS=-Xmx%dm ./crucible plan ...)%n", name(method),
                                MemoryPlan.size(heap), MemoryPlan.size(Runtime.getRuntime().maxMemory()), heap >> 20);
                        calibrationSkipped.add(method);
                    } else {
                        err.printf(Locale.ROOT, "calibrating %s: %d steps of %d tokens...%n", name(method),
                                Calibration.STEPS, calibration);
                        err.flush();
                        rate = Calibration.measure(model, shapes, method, lora, 1, calibration);
                    }
                }
                rows.add(new Row(method, e, fits, gpuBytes == null || e.tensors() <= gpuBytes,
                        rate == null ? Double.NaN : rate.tokensPerSecond(e)));
            }
        }
        printTable(out, rows, gpuBytes != null);
        out.println(recommendation(rows, memoryBytes, gpuBytes));
        out.println("(memory: the trainer's float32 layout replayed op by op; process = heap for -Xmx + the JVM"
                + " + the mapped checkpoint, ! where it does not fit; run with CRUCIBLE_JAVA_OPTS=-Xmx<heap>)");
        return 0;
    }

    /** One method with or without checkpointing: its estimate, whether it fits, its expected speed. */
    private record Row(Trainer.Method method, MemoryPlan.Estimate estimate, boolean fits, boolean fitsGpu,
                       double tokensPerSecond) {
    }

    /** What to plan: the base model, the methods, the micro-batch's shape, adapter settings, the preference method. */
    private record Plan(Path base, List<Trainer.Method> methods, int rows, int seq, Trainer.Lora lora,
                        PreferenceObjective.Config preference) {
    }

    private Plan plan() {
        if (batch != null) {
            OptionChecks.atLeast(1, batch, "--batch");
        }
        if (seq != null) {
            OptionChecks.atLeast(1, seq, "--seq");
        }
        if (methods != null) {
            OptionChecks.oneOf(methods.stream().map(m -> m.trim().toLowerCase(Locale.ROOT)).toList(), "--method",
                    METHODS.toArray(String[]::new));
        }
        Trainer.Lora defaultLora = new Trainer.Lora(16, 32, 0, List.of("all-linear"), false);
        if (Files.isDirectory(target)) {
            return new Plan(target, methods(List.of("full", "lora", "dora", "qlora"), null), batch != null ? batch : 4,
                    seq != null ? seq : 512, defaultLora, null);
        }
        if (!Files.isRegularFile(target)) {
            throw new CrucibleException(target + ": no such model directory or training config");
        }
        TrainConfig c = TrainConfig.read(target);
        PreferenceObjective.Config preference = c.preference() == null ? null : new PreferenceObjective.Config(
                c.preference().method(), c.preference().params(), c.preference().precomputeReference());
        int micro = batch != null ? batch : c.microBatchSize();
        int rows = preference != null && preference.method().paired() ? 2 * micro : micro;
        return new Plan(c.baseModel(), methods(List.of("full", "lora", "dora", "qlora"), c.adapter()), rows,
                seq != null ? seq : c.sequenceLen(), c.lora() != null ? c.lora() : defaultLora, preference);
    }

    /** --method as given, else the defaults with the config's own method first. */
    private List<Trainer.Method> methods(List<String> defaults, String own) {
        List<String> names = new ArrayList<>();
        if (methods != null) {
            methods.forEach(m -> names.add(m.trim().toLowerCase(Locale.ROOT)));
        } else {
            if (own != null) {
                names.add(own.toLowerCase(Locale.ROOT));
            }
            names.addAll(defaults);
        }
        Map<String, Trainer.Method> unique = new LinkedHashMap<>();
        for (String n : names) {
            unique.putIfAbsent(n, Trainer.Method.valueOf(n.toUpperCase(Locale.ROOT)));
        }
        return List.copyOf(unique.values());
    }

    private static Trainer.Settings settings(Trainer.Method method, Trainer.Lora lora, int rows, int seq,
                                             boolean checkpointing) {
        return new Trainer.Settings(method, lora, Trainer.Optimizer.of(1e-5, "constant", 0, 0, 1), rows, 1, seq, true, 1,
                checkpointing, 0, 0, 0, 1, 0);
    }

    private static void printTable(PrintWriter out, List<Row> rows, boolean gpu) {
        String header = String.format(Locale.ROOT, "%-6s %-13s %13s %10s %10s %10s %10s %12s %10s %10s %10s %10s%s",
                "method", "checkpointing", "trainable", "weights", "NF4 base", "gradients", "AdamW", "activations",
                "backward", "heap", "process", "tokens/s", gpu ? "  GPU" : "");
        out.println(header);
        out.println("-".repeat(header.length()));
        for (Row r : rows) {
            MemoryPlan.Estimate e = r.estimate;
            out.printf(Locale.ROOT, "%-6s %-13s %,13d %10s %10s %10s %10s %12s %10s %10s %10s %10s%s%n", name(r.method),
                    e.run().checkpointing() ? "yes" : "no", e.trainableParameters(), MemoryPlan.size(e.weights()),
                    e.nf4() > 0 ? MemoryPlan.size(e.nf4()) : "-", MemoryPlan.size(e.gradients()),
                    MemoryPlan.size(e.optimizer()), MemoryPlan.size(e.activations()),
                    MemoryPlan.size(e.backwardPeak() + e.scratch()), MemoryPlan.size(e.recommendedHeap()),
                    MemoryPlan.size(e.expectedRss()) + (r.fits ? "" : "!"),
                    Double.isNaN(r.tokensPerSecond) ? "-" : String.format(Locale.ROOT, "%.0f", r.tokensPerSecond),
                    gpu ? "  " + (r.fitsGpu ? "fits" : "no") : "");
        }
    }

    /**
     * The first method, in the order given (of preference), that fits, without checkpointing if it can (it is
     * faster); the full fine-tune's verdict when it was planned and does not fit; when nothing fits, what needs least.
     */
    private static String recommendation(List<Row> rows, long memoryBytes, Long gpuBytes) {
        StringBuilder sb = new StringBuilder("recommendation: ");
        String budget = MemoryPlan.size(memoryBytes) + (gpuBytes != null ? " (GPU " + MemoryPlan.size(gpuBytes) + ")" : "");
        Row full = rows.stream().filter(r -> r.method == Trainer.Method.FULL && !r.estimate.run().checkpointing())
                .findFirst().orElse(null);
        Row best = rows.stream().filter(r -> r.fits && r.fitsGpu).findFirst().orElse(null);
        if (full != null && !(full.fits && full.fitsGpu)) {
            sb.append(String.format(Locale.ROOT, "full fine-tuning does not fit in %s (it needs %s); ", budget,
                    need(full, gpuBytes)));
        }
        if (best == null) {
            Row least = rows.stream().min((a, b) -> Long.compare(a.estimate.expectedRss(), b.estimate.expectedRss()))
                    .orElseThrow();
            return sb.append(String.format(Locale.ROOT, "nothing planned fits; %s%s needs least (%s): lower --batch or"
                    + " --seq", name(least.method), least.estimate.run().checkpointing() ? " with gradient checkpointing"
                    : "", need(least, gpuBytes))).toString();
        }
        sb.append(String.format(Locale.ROOT, "%s%s, which needs %s", name(best.method),
                best.estimate.run().checkpointing() ? " with gradient checkpointing" : "", need(best, gpuBytes)));
        if (!Double.isNaN(best.tokensPerSecond)) {
            sb.append(String.format(Locale.ROOT, " and is expected at %.0f tokens/s", best.tokensPerSecond));
        }
        return sb.toString();
    }

    private static String need(Row r, Long gpuBytes) {
        return gpuBytes != null ? MemoryPlan.size(r.estimate.tensors()) + " of tensors"
                : MemoryPlan.size(r.estimate.expectedRss());
    }

    private static String name(Trainer.Method m) {
        return m.name().toLowerCase(Locale.ROOT);
    }

    private static long physicalMemory() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }
}
