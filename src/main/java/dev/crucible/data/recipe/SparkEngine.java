package dev.crucible.data.recipe;

import java.io.PrintWriter;

/** Placeholder while the Spark engine is built. */
public final class SparkEngine {
    private SparkEngine() {
    }

    public static int run(Recipe recipe, boolean overwrite, PrintWriter out, PrintWriter err) {
        throw new dev.crucible.CrucibleException("engine: spark is not available yet");
    }
}
