package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * The Spark job behind {@code engine: spark}: {@code SparkRecipeJob RECIPE.yml [--overwrite]}. Started by
 * {@link SparkEngine} in a child JVM ({@code spark_master} from the recipe, {@code local[*]} by default), or with
 * {@code spark-submit --class dev.crucible.data.recipe.SparkRecipeJob} on a cluster (README: running a recipe on a
 * cluster). Prints the same summary as the embedded engine and writes the same files.
 */
public final class SparkRecipeJob {
    private SparkRecipeJob() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        if (args.length < 1 || args.length > 2 || (args.length == 2 && !args[1].equals("--overwrite"))) {
            err.println("usage: SparkRecipeJob RECIPE.yml [--overwrite]");
            System.exit(2);
        }
        int code;
        try {
            code = run(Path.of(args[0]), args.length == 2, out, err);
        } catch (RuntimeException e) {
            CrucibleException user = userError(e);
            if (user == null) {
                throw e;
            }
            err.println("error: " + user.getMessage());
            code = 1;
        }
        System.exit(code);
    }

    static int run(Path recipeFile, boolean overwrite, PrintWriter out, PrintWriter err) {
        Recipe recipe = Recipe.read(recipeFile);
        recipe.checkOutputs(overwrite);
        if (recipe.report() != null && recipe.report().contains("://")) {
            throw new CrucibleException(recipe.file() + ": report: the driver writes the report; give a local path");
        }
        SparkConf conf = new SparkConf().setAppName("crucible data run " + recipe.file().getFileName());
        if (!conf.contains("spark.master")) {
            conf.setMaster(recipe.sparkMaster()); // spark-submit's --master wins
        }
        if (recipe.sparkMaster().startsWith("local")) {
            conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                    .set("spark.ui.enabled", "false");
        }
        conf.set("spark.sql.jsonGenerator.ignoreNullFields", "false"); // Parquet/CSV rows keep their null fields
        for (Map.Entry<String, String> e : recipe.sparkConf().entrySet()) {
            conf.set(e.getKey(), e.getValue());
        }
        long t0 = System.nanoTime();
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        double start = (System.nanoTime() - t0) / 1e9;
        try {
            RunResult result = new SparkRecipe(spark, recipe, err).run(start);
            if (recipe.report() != null) {
                RowFile.publishText(Path.of(recipe.report()), HtmlReport.render(recipe, result));
            }
            RunSummary.print(recipe, result, out);
            return 0;
        } finally {
            spark.stop();
        }
    }

    /** The user error behind a failed Spark job (a task's exception arrives wrapped), or null for a bug. */
    static CrucibleException userError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CrucibleException c) {
                return c;
            }
        }
        // Spark rethrows a task's exception by class name and message when it cannot pass the object itself
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            int at = m == null ? -1 : m.indexOf(CrucibleException.class.getName() + ": ");
            if (at >= 0) {
                String rest = m.substring(at + CrucibleException.class.getName().length() + 2);
                return new CrucibleException(rest.lines().findFirst().orElse(rest));
            }
        }
        return null;
    }
}
