package dev.crucible.cli;

import dev.crucible.io.OutputCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code crucible quickstart [OUT_DIR]}: the whole life cycle on embedded data, in minutes (see {@link Quickstart}). */
@Command(name = "quickstart", description = {
        "The whole life cycle on a tiny Llama, on data shipped inside Crucible (nothing is downloaded): a dataset recipe"
                + " (dedup, decontamination), pre-training from random weights, two SFT specialists (full and LoRA),"
                + " DPO, four merges (TIES, SLERP, a frankenmerge, a two-expert Franken-MoE), evaluation of every model"
                + " on both skills, GGUF export of the best one, and an HTML report (OUT_DIR/report.html).",
        "Every stage runs the command it names, in this process, on the YAML files it writes to OUT_DIR/configs:"
                + " rerun any of them by hand (./crucible train OUT_DIR/configs/sft-add.yml --overwrite). About a"
                + " minute on two cores; --fast: a CI-sized run, about half that."})
final class QuickstartCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", defaultValue = "quickstart", paramLabel = "OUT_DIR",
            description = "where everything goes (default: ./quickstart)")
    Path outDir;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--fast", description = "a CI-sized run: fewer training steps and evaluation documents (the"
            + " skills are weaker; the numbers still move the right way)")
    boolean fast;

    @Override
    public Integer call() {
        OutputCheck.of(outDir, "OUT_DIR").directory(overwrite.overwrite, spec.commandLine().getErr()::println);
        new Quickstart(outDir, fast ? Quickstart.Size.FAST : Quickstart.Size.FULL, spec.commandLine().getOut(),
                spec.commandLine().getErr()).run();
        return 0;
    }
}
