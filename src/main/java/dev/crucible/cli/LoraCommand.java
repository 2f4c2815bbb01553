package dev.crucible.cli;

import dev.crucible.ProgressBar;
import dev.crucible.io.OutputCheck;
import dev.crucible.tensor.DType;
import dev.crucible.train.LoraMerge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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
            description = {"Fold an adapter into its base model and write the merged model directory.",
                    "OUT_DIR must not be, contain or lie inside the base model or the adapter; an existing, non-empty "
                            + "OUT_DIR needs --overwrite."})
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

        @Mixin
        OverwriteOption overwrite;

        @Override
        public Integer call() {
            DType target = dtype == null ? null : DType.parse(dtype);
            PrintWriter err = spec.commandLine().getErr();
            OutputCheck.of(out, "OUT_DIR").reads("the base model", base).reads("the adapter", adapter)
                    .directory(overwrite.overwrite, err::println);
            ProgressBar bar = new ProgressBar(err, "merging", "tensors", true);
            LoraMerge.merge(base, adapter, out, target, bar::update);
            spec.commandLine().getOut().println("merged " + adapter + " into " + base + " -> " + out);
            return 0;
        }
    }
}
