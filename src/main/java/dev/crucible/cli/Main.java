package dev.crucible.cli;

import dev.crucible.CrucibleException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code crucible} command: one subcommand per job. */
@Command(name = "crucible", mixinStandardHelpOptions = true, version = "crucible 0.1.0",
        description = "Fine-tune and merge large language models on the JVM.",
        subcommands = {
                InspectCommand.class,
                MergeCommand.class,
                MoeCommand.class,
                ExtractLoraCommand.class,
                ExamplesCommand.class,
                ForwardCommand.class,
                BenchCommand.class,
                GenerateCommand.class,
                ChatCommand.class,
                EvalCommand.class,
                LoraCommand.class,
                SftCommand.class,
                TokenizeCommand.class,
                TemplateCommand.class,
                DataCommand.class,
                ExportCommand.class,
        })
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code; user errors print one line on stderr, not a stack trace. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof CrucibleException) {
                cmd.getErr().println("error: " + ex.getMessage());
                cmd.getErr().flush();
                return 1;
            }
            throw ex;
        });
        try {
            return cli.execute(args);
        } catch (RuntimeException | Error e) {
            if (!causedByOutOfMemory(e)) {
                throw e;
            }
            // The launcher caps the heap of streaming jobs; one that needs more gets a hint, not a trace.
            System.err.println("error: out of memory (Java heap limit " + Runtime.getRuntime().maxMemory() / (1024 * 1024)
                    + " MiB). Give this job a larger heap, e.g. CRUCIBLE_JAVA_OPTS=-Xmx8g ./crucible "
                    + String.join(" ", args));
            return 1;
        }
    }

    private static boolean causedByOutOfMemory(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }
}
