package dev.crucible;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The optional Python side of the interop tests. The interpreter is {@code CRUCIBLE_PYTHON} when set, else
 * {@code python3}; {@link #assumeModules} skips the calling test (with the reason) where that interpreter is
 * missing or cannot import what the test needs, so the suite passes on machines with only a JDK. Module probes
 * run once per set of modules and are cached for the whole test run, since importing torch takes seconds.
 */
public final class PythonInterop {
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(120);
    private static final Map<List<String>, String> PROBES = new ConcurrentHashMap<>();

    /** What a script printed and how it ended. */
    public record Result(int exitCode, String out, String err) {
        /** Fails the test with the script's stderr when it exited non-zero; returns this for chaining. */
        public Result assertOk() {
            if (exitCode != 0) {
                throw new AssertionError("python exited with " + exitCode + ":\n" + err + out);
            }
            return this;
        }
    }

    private PythonInterop() {
    }

    /** The interpreter the interop tests use: {@code CRUCIBLE_PYTHON}, else {@code python3} from the PATH. */
    public static String interpreter() {
        String configured = System.getenv("CRUCIBLE_PYTHON");
        return configured == null || configured.isBlank() ? "python3" : configured;
    }

    /** Skips the calling test unless the interpreter imports every module named (e.g. "torch", "transformers"). */
    public static void assumeModules(String... modules) {
        unavailable(modules).ifPresent(Assumptions::abort);
    }

    /**
     * Why the interpreter cannot serve a test needing these modules, or empty when it can. For test factories:
     * surefire does not report an aborted factory, so they return one dynamic test that aborts with this reason.
     */
    public static Optional<String> unavailable(String... modules) {
        String problem = PROBES.computeIfAbsent(List.copyOf(Arrays.asList(modules)), PythonInterop::probe);
        return problem.isEmpty() ? Optional.empty() : Optional.of(problem);
    }

    /** Empty when every module imports, else a sentence saying what is missing (the skip reason). */
    private static String probe(List<String> modules) {
        String imports = "import " + String.join(", ", modules);
        try {
            Result r = run(List.of("-c", imports), null, PROBE_TIMEOUT);
            if (r.exitCode() == 0) {
                return "";
            }
            String[] lines = r.err().strip().split("\n");
            return interpreter() + " cannot " + imports + " (" + lines[lines.length - 1]
                    + "); set CRUCIBLE_PYTHON to a Python that has them";
        } catch (AssertionError | UncheckedIOException e) {
            return interpreter() + " not runnable (" + e.getMessage() + "); set CRUCIBLE_PYTHON to a Python with "
                    + String.join(", ", modules);
        }
    }

    /**
     * Copies the class-path resource {@code /interop/NAME} into {@code dir} and runs it with {@code args};
     * {@code stdin} (may be null) is written to the script's standard input.
     */
    public static Result runResource(String name, Path dir, List<String> args, byte[] stdin, Duration timeout) {
        Path script = dir.resolve(name);
        try (InputStream in = PythonInterop.class.getResourceAsStream("/interop/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no test resource /interop/" + name);
            }
            Files.copy(in, script);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return runScript(script, args, stdin, timeout);
    }

    /** Runs the script file with {@code args}, offline (no Hub access), within {@code timeout}. */
    public static Result runScript(Path script, List<String> args, byte[] stdin, Duration timeout) {
        List<String> argv = new ArrayList<>();
        argv.add(script.toString());
        argv.addAll(args);
        return run(argv, stdin, timeout);
    }

    private static Result run(List<String> args, byte[] stdin, Duration timeout) {
        List<String> command = new ArrayList<>();
        command.add(interpreter());
        command.addAll(args);
        Path errFile = null;
        Process p = null;
        try {
            // stderr goes to a file so a chatty script cannot block on a full pipe while we read stdout
            errFile = Files.createTempFile("crucible-python", ".err");
            ProcessBuilder pb = new ProcessBuilder(command).redirectError(errFile.toFile());
            pb.environment().put("HF_HUB_OFFLINE", "1");
            pb.environment().put("TRANSFORMERS_OFFLINE", "1");
            p = pb.start();
            Process proc = p;
            byte[][] out = new byte[1][];
            Thread stdout = Thread.startVirtualThread(() -> {
                try {
                    out[0] = proc.getInputStream().readAllBytes();
                } catch (IOException e) {
                    out[0] = new byte[0];
                }
            });
            // stdout is drained already, so a script that answers while reading cannot deadlock us
            try (var in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin);
                }
            } catch (IOException brokenPipe) {
                // the script exited without reading its input: its exit code and stderr say why
            }
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("python timed out after " + timeout.toSeconds() + " s: " + command);
            }
            stdout.join();
            return new Result(p.exitValue(), new String(out[0], StandardCharsets.UTF_8), Files.readString(errFile));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
            }
            if (errFile != null) {
                try {
                    Files.deleteIfExists(errFile);
                } catch (IOException ignored) {
                    // a leftover temp file is harmless
                }
            }
        }
    }
}
