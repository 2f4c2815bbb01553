package dev.crucible.cli;

import dev.crucible.CrucibleException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code crucible} command: one subcommand per job. Every command and subcommand takes {@code --help}. A user
 * error (a {@link CrucibleException}, or a command line picocli cannot parse) prints one {@code error:} line and
 * exits 1 (2 for the command line); anything else is a bug: one line naming the file that holds the stack trace,
 * exit 70. {@code CRUCIBLE_DEBUG=1} prints stack traces (and the launcher then shows the JVM's own warnings).
 */
@Command(name = "crucible", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Fine-tune and merge large language models on the JVM.",
        subcommands = {
                QuickstartCommand.class,
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
                TrainCommand.class,
                PlanCommand.class,
                TokenizeCommand.class,
                TemplateCommand.class,
                DataCommand.class,
                ExportCommand.class,
        })
public final class Main {
    /** Exit code of an internal error (a bug), as sysexits' EX_SOFTWARE. */
    static final int BUG = 70;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code; user errors print one line on stderr, not a stack trace. */
    public static int run(String... args) {
        CommandLine cli = commandLine();
        try {
            return cli.execute(args);
        } catch (RuntimeException | Error e) {
            return failed(e, cli.getErr(), args);
        }
    }

    /** The command tree, every command with --help and --version, errors reported as the class comment says. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        addHelp(cli);
        cli.setOverwrittenOptionsAllowed(true); // as click (so mergekit) does: a repeated option's last value wins
        cli.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("error: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, cmd.getErr());
            cmd.getErr().println("(see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            cmd.getErr().flush();
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> failed(ex, cmd.getErr(), parsed.originalArgs()
                .toArray(String[]::new)));
        return cli;
    }

    private static void addHelp(CommandLine cmd) {
        cmd.getCommandSpec().mixinStandardHelpOptions(true);
        cmd.getCommandSpec().versionProvider(new Version());
        cmd.getSubcommands().values().forEach(Main::addHelp);
    }

    private static int failed(Throwable ex, PrintWriter err, String[] args) {
        if (debug()) {
            ex.printStackTrace(err);
        }
        if (ex instanceof CrucibleException) {
            err.println("error: " + ex.getMessage());
            err.flush();
            return 1;
        }
        if (causedByOutOfMemory(ex)) {
            // The launcher caps the heap of streaming jobs; one that needs more gets a hint, not a trace.
            long limitMib = Runtime.getRuntime().maxMemory() / (1024 * 1024);
            long suggestGib = Math.max(8, (limitMib * 3 / 2 + 1023) / 1024); // more than the limit that failed
            err.println("error: out of memory (Java heap limit " + limitMib + " MiB). Give this job a larger heap, e.g."
                    + " CRUCIBLE_JAVA_OPTS=-Xmx" + suggestGib + "g ./crucible "
                    + String.join(" ", args));
            err.flush();
            return 1;
        }
        err.println("error: unexpected " + ex + " (a bug in Crucible; " + saveTrace(ex, args) + ")");
        err.flush();
        return BUG;
    }

    /** Writes the stack trace of a bug to a file, for the report; says where (or, failing that, how to see it). */
    private static String saveTrace(Throwable ex, String[] args) {
        StringWriter text = new StringWriter();
        text.append("crucible ").append(String.join(" ", args)).append('\n');
        ex.printStackTrace(new PrintWriter(text));
        try {
            Path file = Files.createTempFile("crucible-error-", ".txt");
            Files.writeString(file, text.toString());
            return "the stack trace is in " + file;
        } catch (IOException | RuntimeException e) {
            return "CRUCIBLE_DEBUG=1 prints the stack trace";
        }
    }

    static boolean debug() {
        String v = System.getenv("CRUCIBLE_DEBUG");
        return v != null && !v.isEmpty() && !v.equals("0");
    }

    private static boolean causedByOutOfMemory(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code --version}: Crucible's, the JVM's, whether the Vector API (an incubator module) is in use, and which
     * kernels multiply GGUF block weights (native or Java, and why).
     */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            boolean vector = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
            return new String[] {
                    "crucible 0.1.0",
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ", "
                            + System.getProperty("java.home") + ")",
                    "Vector API: " + (vector ? "jdk.incubator.vector (an incubator module: the JVM warns about it "
                            + "on start; the launcher hides that line except here and with CRUCIBLE_DEBUG=1)"
                            : "not loaded (start the JVM with --add-modules jdk.incubator.vector)"),
                    // the block kernels need the Vector API's classes even to say why they are not used
                    "GGUF block kernels: " + (vector ? dev.crucible.tensor.Gemm.blockKernels() : "need the Vector API"),
            };
        }
    }
}
