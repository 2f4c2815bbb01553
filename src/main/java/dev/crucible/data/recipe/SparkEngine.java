package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code engine: spark}: runs a recipe as an Apache Spark job in a child JVM. Spark is not part of Crucible's jar
 * or start-up: its engine lives in the separate Maven project {@code spark/} (same package, classes
 * {@code SparkRecipeJob} and friends), built the first time a recipe asks for it ({@code mvn -f spark/pom.xml
 * package}, which also fetches Spark into the local Maven repository), and again whenever its sources change, as
 * the launcher does for the main jar. The child's class path puts Spark's libraries before Crucible's, so Spark
 * finds the Jackson version it was built with.
 */
public final class SparkEngine {
    /** The JVM options Spark's own launcher adds on JDK 17+ (its {@code JavaModuleOptions}). */
    static final List<String> JVM_OPTIONS = List.of(
            "-XX:+IgnoreUnrecognizedVMOptions",
            "--add-modules=jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
            "-Djdk.reflect.useDirectMethodHandle=false",
            "-Dio.netty.tryReflectionSetAccessible=true");
    static final String JOB = "dev.crucible.data.recipe.SparkRecipeJob";

    private SparkEngine() {
    }

    /** Runs the recipe with Spark and returns the job's exit code; its output goes to {@code out} and {@code err}. */
    public static int run(Recipe recipe, boolean overwrite, PrintWriter out, PrintWriter err) {
        List<String> classPath = classPath(err);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_OPTIONS);
        String opts = System.getenv("CRUCIBLE_SPARK_JAVA_OPTS");
        if (opts != null && !opts.isBlank()) {
            command.addAll(List.of(opts.trim().split("\\s+")));
        }
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classPath));
        command.add(JOB);
        command.add(recipe.file().toAbsolutePath().toString());
        if (overwrite) {
            command.add("--overwrite");
        }
        ProcessBuilder pb = new ProcessBuilder(command);
        if (recipe.sparkMaster().startsWith("local")) {
            pb.environment().putIfAbsent("SPARK_LOCAL_IP", "127.0.0.1"); // no reverse-DNS wait on a laptop or CI
        }
        return runChild(pb, out, err);
    }

    /** Spark's engine jar, Spark's libraries, then Crucible's own classes and libraries. */
    static List<String> classPath(PrintWriter err) {
        Path root = projectRoot();
        Path self = codeSource();
        Path sparkJar = root.resolve("spark/target/crucible-spark.jar");
        Path sparkClassPath = root.resolve("spark/target/classpath.txt");
        if (stale(root, sparkJar, sparkClassPath, self)) {
            build(root, self, err);
        }
        List<String> cp = new ArrayList<>();
        cp.add(sparkJar.toString());
        try {
            cp.addAll(List.of(Files.readString(sparkClassPath).strip().split(File.pathSeparator)));
        } catch (IOException e) {
            throw new CrucibleException(sparkClassPath + ": cannot read: " + e.getMessage(), e);
        }
        // the caller's class path: crucible.jar (its manifest names target/lib) or, in tests, classes and libraries
        cp.addAll(List.of(System.getProperty("java.class.path").split(File.pathSeparator)));
        return cp;
    }

    /** The source checkout holding {@code spark/}: the jar's or the classes directory's project. */
    static Path projectRoot() {
        Path self = codeSource();
        Path target = self.getParent(); // target/crucible.jar or target/classes
        Path root = target == null ? null : target.getParent();
        if (root == null || !Files.isRegularFile(root.resolve("spark/pom.xml"))) {
            throw new CrucibleException("engine: spark needs the Crucible source checkout it was built from (spark/pom.xml"
                    + " next to " + self + "); run ./crucible from a clone of the repository");
        }
        return root;
    }

    private static Path codeSource() {
        try {
            return Path.of(SparkEngine.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean stale(Path root, Path jar, Path classPath, Path self) {
        if (!Files.isRegularFile(jar) || !Files.isRegularFile(classPath)) {
            return true;
        }
        // rebuilt when its sources or the Crucible classes it is compiled against are newer than the jar
        try (Stream<Path> sources = Files.walk(root.resolve("spark/src"));
             Stream<Path> main = Files.walk(self)) {
            long built = Files.getLastModifiedTime(jar).toMillis();
            return Files.getLastModifiedTime(root.resolve("spark/pom.xml")).toMillis() > built
                    || sources.anyMatch(p -> modified(p) > built) || main.anyMatch(p -> modified(p) > built);
        } catch (IOException e) {
            return true;
        }
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    /** {@code mvn package} of spark/: offline first (fast when Spark is already in ~/.m2), else online to fetch it. */
    private static void build(Path root, Path self, PrintWriter err) {
        err.println("crucible: building the Spark engine (spark/; the first build downloads Apache Spark, ~280 MB)...");
        err.flush();
        String mvn = System.getenv().getOrDefault("CRUCIBLE_MVN", "mvn");
        Path classes = Files.isDirectory(self) ? jarOf(self, root.resolve("spark/target/crucible-classes.jar")) : self;
        List<String> command = new ArrayList<>(List.of(mvn, "-q", "-B", "-f", root.resolve("spark/pom.xml").toString(),
                "package", "-DskipTests", "-Dcrucible.classes=" + classes));
        StringBuilder log = new StringBuilder();
        int code = maven(command, log, true, root);
        if (code != 0 && log.toString().contains("offline")) {
            log.setLength(0);
            code = maven(command, log, false, root);
        }
        if (code != 0) {
            String tail = log.toString().lines().filter(l -> !l.startsWith("WARNING")).reduce((a, b) -> a + "\n" + b)
                    .orElse("");
            throw new CrucibleException("engine: spark: building spark/ failed (" + String.join(" ", command) + "):\n"
                    + tail.substring(Math.max(0, tail.length() - 3000)));
        }
    }

    /** A jar of a classes directory (tests run from target/classes; Maven compiles only against a jar). */
    private static Path jarOf(Path classes, Path jar) {
        try {
            Files.createDirectories(jar.getParent());
            try (java.util.jar.JarOutputStream out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar));
                 Stream<Path> files = Files.walk(classes)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new java.util.jar.JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                    Files.copy(f, out);
                    out.closeEntry();
                }
            }
            return jar;
        } catch (IOException e) {
            throw new CrucibleException(jar + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static int maven(List<String> command, StringBuilder log, boolean offline, Path root) {
        List<String> c = new ArrayList<>(command);
        if (offline) {
            c.add(1, "-o");
        }
        ProcessBuilder pb = new ProcessBuilder(c).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        try {
            Process p = pb.start();
            log.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            return p.waitFor();
        } catch (IOException e) {
            throw new CrucibleException("engine: spark needs Maven (mvn) to build its engine on first use: "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CrucibleException("interrupted", e);
        }
    }

    /** Starts the child with its output copied to {@code out} and {@code err}; returns its exit code. */
    static int runChild(ProcessBuilder pb, PrintWriter out, PrintWriter err) {
        try {
            Process p = pb.start();
            Thread o = pump(p.getInputStream(), out);
            Thread e = pump(p.getErrorStream(), err);
            int code = p.waitFor();
            o.join(TimeUnit.SECONDS.toMillis(10));
            e.join(TimeUnit.SECONDS.toMillis(10));
            return code;
        } catch (IOException e) {
            throw new CrucibleException("engine: spark: cannot start the Spark job: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CrucibleException("interrupted", e);
        }
    }

    private static Thread pump(InputStream in, PrintWriter to) {
        Thread t = new Thread(() -> {
            try (Reader r = new java.io.InputStreamReader(in, StandardCharsets.UTF_8)) {
                char[] buf = new char[8192];
                int n;
                while ((n = r.read(buf)) > 0) {
                    synchronized (to) {
                        to.write(buf, 0, n);
                        to.flush();
                    }
                }
            } catch (IOException ignored) {
                // the child ended
            }
        }, "spark-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
