package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetReader;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A recipe's rows as a Spark RDD of {@link RawRow}s with the embedded engine's identities: the same ordinals (inputs
 * in recipe order, files in name order, rows in file order, blank lines skipped), file names, units and numbers.
 * Local inputs list their files as the embedded engine does ({@link RecipeInput#source}); URIs through Hadoop's file
 * system (a directory's data files in name order, or its {@code split} subdirectory or name prefix). JSON Lines go
 * through {@code textFile} (Hadoop's splits keep file order, so line numbers are exact); Parquet and CSV through
 * Spark's readers, one partition per file so rows keep their order, each row as Spark's JSON of it; JSON and text
 * files are read on the driver.
 */
final class SparkRows {
    private SparkRows() {
    }

    static JavaRDD<RawRow> read(SparkSession spark, Recipe recipe) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Path base = recipe.file().toAbsolutePath().getParent();
        List<JavaRDD<RawRow>> parts = new ArrayList<>();
        for (int i = 0; i < recipe.inputs().size(); i++) {
            RecipeInput in = recipe.inputs().get(i);
            List<String> files = files(spark, in);
            for (int f = 0; f < files.size(); f++) {
                String format = in.source().fileFormat(Path.of(files.get(f)));
                parts.add(file(spark, sc, files.get(f), format, i, f, display(base, files.get(f))));
            }
        }
        JavaRDD<RawRow> all = parts.getFirst();
        for (int p = 1; p < parts.size(); p++) {
            all = all.union(parts.get(p));
        }
        // union keeps partition order, so the global index is the run order of the embedded engine
        return all.zipWithIndex().map(t -> new RawRow(Math.toIntExact(t._2()), t._1().input(), t._1().file(),
                t._1().fileName(), t._1().unit(), t._1().number(), t._1().json()));
    }

    /** The files of an input: local ones as the embedded engine lists them, others through Hadoop's file system. */
    static List<String> files(SparkSession spark, RecipeInput in) {
        if (in.local()) {
            return in.files().stream().map(p -> p.toAbsolutePath().toString()).toList();
        }
        try {
            Configuration conf = spark.sparkContext().hadoopConfiguration();
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(in.path());
            FileSystem fs = FileSystem.get(URI.create(in.path()), conf);
            FileStatus status = fs.getFileStatus(path);
            if (!status.isDirectory()) {
                return List.of(in.path());
            }
            if (in.split() != null && fs.exists(new org.apache.hadoop.fs.Path(path, in.split()))) {
                path = new org.apache.hadoop.fs.Path(path, in.split());
            }
            List<String> out = new ArrayList<>();
            FileStatus[] list = fs.listStatus(path);
            Arrays.sort(list, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
            for (FileStatus s : list) {
                String name = s.getPath().getName();
                if (s.isFile() && in.source().fileFormat(Path.of(name)) != null
                        && (in.split() == null || path.getName().equals(in.split()) || name.startsWith(in.split()))) {
                    out.add(s.getPath().toString());
                }
            }
            if (out.isEmpty()) {
                throw new CrucibleException(in.path() + ": no .jsonl, .json, .parquet or .csv file");
            }
            return out;
        } catch (IOException e) {
            throw new CrucibleException(in.path() + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static JavaRDD<RawRow> file(SparkSession spark, JavaSparkContext sc, String file, String format, int input,
                                        int index, String name) {
        String lower = file.toLowerCase(Locale.ROOT);
        if (format.equals("json") && (lower.endsWith(".jsonl") || lower.endsWith(".ndjson"))) {
            return sc.textFile(file).zipWithIndex().filter(t -> !t._1().isBlank())
                    .map(t -> new RawRow(0, input, index, name, "line", t._2() + 1, t._1()));
        }
        if (format.equals("parquet") || format.equals("csv")) {
            String previous = spark.conf().get("spark.sql.files.maxPartitionBytes");
            spark.conf().set("spark.sql.files.maxPartitionBytes", String.valueOf(Long.MAX_VALUE / 4));
            try {
                var reader = spark.read();
                var rows = format.equals("parquet") ? reader.parquet(file)
                        : reader.option("header", "true").option("inferSchema", "false").csv(file);
                return rows.toJSON().javaRDD().zipWithIndex()
                        .map(t -> new RawRow(0, input, index, name, "row", t._2() + 1, t._1()));
            } finally {
                spark.conf().set("spark.sql.files.maxPartitionBytes", previous);
            }
        }
        List<RawRow> rows = new ArrayList<>();
        DatasetReader.stream(Path.of(file), format, (unit, number, json) -> rows.add(new RawRow(0, input, index, name, unit,
                number, json)));
        return sc.parallelize(rows, 1);
    }

    private static String display(Path base, String file) {
        return file.contains("://") ? file : RowStream.display(base, Path.of(file));
    }
}
