package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.eval.tasks.ResultsComparison;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code crucible eval compare}: several models' results side by side, printed and written as HTML. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Compare lm-eval results of several models (e.g. a merge and its sources): a table per task "
                + "and metric, best value marked, printed and written as HTML.")
final class EvalCompareCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "2..*", paramLabel = "RESULTS",
            description = "results_*.json files, directories holding them, or --output-path directories (one "
                    + "sub-directory per model); the newest results file of a directory is used")
    List<Path> inputs;

    @Option(names = "--html", paramLabel = "FILE", defaultValue = "comparison.html",
            description = "where to write the HTML table; default ${DEFAULT-VALUE}")
    Path html;

    @Option(names = "--force", description = "replace an existing --html file")
    boolean force;

    @Override
    public Integer call() throws IOException {
        if (Files.exists(html) && !force) {
            throw new CrucibleException(html + " exists; pass --force to replace it or --html to write elsewhere");
        }
        ResultsComparison c = ResultsComparison.of(inputs);
        PrintWriter out = spec.commandLine().getOut();
        out.print(c.markdown());
        out.flush();
        Path dir = html.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + html.getFileName() + ".tmp");
        Files.writeString(tmp, c.html());
        try {
            Files.move(tmp, html, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, html, StandardCopyOption.REPLACE_EXISTING);
        }
        System.err.println("comparison written to " + html);
        return 0;
    }
}
