package dev.crucible.cli;

import dev.crucible.merge.SyntheticModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "examples", description = "Helpers for the runnable examples in examples/.",
        subcommands = ExamplesCommand.MakeModels.class)
final class ExamplesCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec self;

    @Override
    public void run() {
        self.commandLine().usage(self.commandLine().getOut());
    }

    @Command(name = "make-models", description = {
            "Write the tiny input models the example configs merge (base, ft1, ft2, ft3: Llama, hidden 64, 4 layers,",
            "vocab 256, bf16; fine-tunes = base + N(0, 0.01)). Takes a second."})
    static final class MakeModels implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", defaultValue = "examples/models", paramLabel = "DIR",
                description = "where to write them (default: examples/models)")
        Path dir;

        @Override
        public Integer call() {
            int threads = Runtime.getRuntime().availableProcessors();
            SyntheticModels.write(dir.resolve("base"), SyntheticModels.Shape.TINY, 0, 0, 0, threads);
            for (int i = 1; i <= 3; i++) {
                SyntheticModels.write(dir.resolve("ft" + i), SyntheticModels.Shape.TINY, 0, i, 0.01, threads);
            }
            spec.commandLine().getOut().println("wrote " + dir.resolve("base") + ", ft1, ft2, ft3");
            return 0;
        }
    }
}
