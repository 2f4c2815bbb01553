package dev.crucible.data.recipe;

import dev.crucible.data.DatasetSource;
import dev.crucible.data.DatasetType;

import java.nio.file.Path;
import java.util.List;

/**
 * One entry of a recipe's {@code inputs}: a dataset file or directory of a {@link DatasetType}, read as a
 * {@code crucible sft} {@code datasets} entry reads it ({@link DatasetSource}: Hugging Face {@code datasets}' layout
 * of a directory, {@code data_files}, {@code name}, {@code split}, {@code ds_type}), optionally a {@code sample}
 * (a fraction in (0, 1] or a row count) and a mixing {@code weight}.
 *
 * @param path      as written in the recipe, resolved against the recipe's directory unless absolute or a URI
 *                  ({@code hdfs://...}, for Spark)
 * @param field     the field read for completion/text/messages/sharegpt (null: the type's default)
 * @param split     the split(s) to read ({@code train} by default, {@code train+validation}); slices are rows, which
 *                  {@code sample} draws instead
 * @param dataFiles null, or data_files patterns inside the directory
 * @param name      null, or the configuration of a directory whose README.md declares several
 * @param dsType    null, or the file format when the extension does not say it
 * @param sample    null, a fraction ({@code Double}) or a count ({@code Long}) of the input's rows, drawn by the seed
 * @param weight    how many times each kept row is written to the output: 0.5 keeps a seeded half of the input's
 *                  kept rows (the others go to {@code removed}), 2 writes each twice, 1.5 each once and a seeded half
 *                  again
 */
public record RecipeInput(String path, DatasetType type, String field, String split, List<String> dataFiles, String name,
                          String dsType, Number sample, double weight) implements java.io.Serializable {

    public RecipeInput {
        dataFiles = dataFiles == null ? null : List.copyOf(dataFiles);
    }

    /** A plain file or directory of {@code type} (no split, sample or weight): {@code data stats}. */
    public static RecipeInput of(String path, DatasetType type, String field) {
        return new RecipeInput(path, type, field, null, null, null, null, null, 1);
    }

    /** Whether {@link #path} names a local file (not an {@code hdfs://}, {@code s3a://}, ... URI). */
    public boolean local() {
        return !path.contains("://") || path.startsWith("file:");
    }

    public Path localPath() {
        return path.startsWith("file:") ? Path.of(java.net.URI.create(path)) : Path.of(path);
    }

    /** Which files the input reads, and in which format each. */
    public DatasetSource source() {
        return new DatasetSource(localPath(), dataFiles, name, split, dsType);
    }

    /** The files this input reads, in order. */
    public List<Path> files() {
        return source().files();
    }
}
