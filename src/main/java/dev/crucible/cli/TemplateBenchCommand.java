package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.bench.TemplateBenchmark;
import dev.crucible.io.ModelDirectory;
import dev.crucible.template.ChatTemplate;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crucible template bench}: options for {@link TemplateBenchmark}. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmark rendering a chat template on an N-turn conversation.")
final class TemplateBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--model", paramLabel = "MODEL_DIR", description = "model directory with a chat template")
        Path model;

        @Option(names = "--template", paramLabel = "FILE", description = "a Jinja template file")
        Path template;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--turns", defaultValue = "10", description = "user/assistant exchanges (default ${DEFAULT-VALUE})")
    int turns;

    @Option(names = "--seconds", defaultValue = "5", description = "measurement time (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "5", description = "JIT warm-up time before measuring (default ${DEFAULT-VALUE})")
    double warmup;

    @Override
    public Integer call() {
        ChatTemplate t;
        if (source.model != null) {
            t = ChatTemplate.fromModel(ModelDirectory.open(source.model));
        } else {
            try {
                t = ChatTemplate.of(Files.readString(source.template))
                        .withSpecialTokens(Map.of("bos_token", "<s>", "eos_token", "</s>"));
            } catch (IOException e) {
                throw new CrucibleException(source.template + ": cannot read: " + e.getMessage(), e);
            }
        }
        TemplateBenchmark.Result r = TemplateBenchmark.run(t, turns, seconds, warmup);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%d turns, %d chars per render: %.0f renders/s, %.1f MB/s of prompt text (%d renders in %.1f s)%n",
                r.turns(), r.chars(), r.rendersPerSecond(), r.megabytesPerSecond(), r.renders(), r.seconds());
        out.flush();
        return 0;
    }
}
