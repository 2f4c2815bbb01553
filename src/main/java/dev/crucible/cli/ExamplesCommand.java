package dev.crucible.cli;

import dev.crucible.io.OutputCheck;
import dev.crucible.merge.SyntheticModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
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
            "vocab 256, bf16; fine-tunes = base + N(0, 0.01)). Takes a second. Existing models are replaced only with",
            "--overwrite (examples/run.sh passes it, so the example can be rerun)."})
    static final class MakeModels implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", defaultValue = "examples/models", paramLabel = "DIR",
                description = "where to write them (default: examples/models)")
        Path dir;

        @Mixin
        OverwriteOption overwrite;

        @Override
        public Integer call() {
            List<String> names = List.of("base", "ft1", "ft2", "ft3");
            for (String name : names) { // all checked before the first is written
                OutputCheck.of(dir.resolve(name), "DIR/" + name).directory(overwrite.overwrite,
                        spec.commandLine().getErr()::println);
            }
            int threads = Runtime.getRuntime().availableProcessors();
            for (int i = 0; i < names.size(); i++) {
                SyntheticModels.write(dir.resolve(names.get(i)), SyntheticModels.Shape.TINY, 0, i, i == 0 ? 0 : 0.01,
                        threads);
            }
            spec.commandLine().getOut().println("wrote " + dir.resolve("base") + ", ft1, ft2, ft3");
            return 0;
        }
    }
}
