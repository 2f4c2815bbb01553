package dev.crucible.cli;

import dev.crucible.tensor.DType;
import dev.crucible.train.LoraMerge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code crucible lora ...}: work with PEFT LoRA adapters. */
@Command(name = "lora", description = "Work with PEFT LoRA/rsLoRA/DoRA adapters.",
        subcommands = {LoraCommand.Merge.class})
final class LoraCommand {
    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = "Fold an adapter into its base model and write the merged model directory.")
    static final class Merge implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "BASE_DIR", description = "The base model (Hugging Face directory).")
        Path base;

        @Parameters(index = "1", paramLabel = "ADAPTER_DIR", description = "The PEFT adapter directory.")
        Path adapter;

        @Parameters(index = "2", paramLabel = "OUT_DIR", description = "Where the merged model goes.")
        Path out;

        @Option(names = "--dtype", paramLabel = "DTYPE",
                description = "float32, bfloat16 or float16 (default: the base model's dtype).")
        String dtype;

        @Override
        public Integer call() {
            DType target = dtype == null ? null : DType.parse(dtype);
            PrintWriter err = spec.commandLine().getErr();
            long start = System.nanoTime();
            LoraMerge.merge(base, adapter, out, target, (done, total, bytes, totalBytes) -> {
                double secs = (System.nanoTime() - start) / 1e9;
                double rate = bytes / Math.max(secs, 1e-9);
                long eta = Math.round((totalBytes - bytes) / Math.max(rate, 1));
                int width = 30;
                int filled = (int) (width * (long) done / total);
                err.printf("\rmerging [%s%s] %d/%d tensors, %.1f MB, %.0f MB/s, ETA %ds",
                        "#".repeat(filled), " ".repeat(width - filled), done, total, bytes / 1e6, rate / 1e6, eta);
                err.flush();
            });
            err.println();
            spec.commandLine().getOut().println("merged " + adapter + " into " + base + " -> " + out);
            return 0;
        }
    }
}
