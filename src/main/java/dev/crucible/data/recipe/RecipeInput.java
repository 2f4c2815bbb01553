package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetReader;
import dev.crucible.data.DatasetType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * One entry of a recipe's {@code inputs}: a dataset file or directory of a {@link DatasetType}, optionally one
 * {@code split} of a directory, a {@code sample} (a fraction in (0, 1] or a row count) and a mixing {@code weight}.
 *
 * @param path   as written in the recipe, resolved against the recipe's directory unless absolute or a URI
 *               ({@code hdfs://...}, for Spark)
 * @param field  the field read for completion/text/messages/sharegpt (null: the type's default)
 * @param split  with a directory: only the files of that split ({@code train-00000-of-00002.parquet},
 *               {@code train.jsonl}, or a {@code train/} subdirectory), as Hugging Face lays out dataset repositories
 * @param sample null, a fraction ({@code Double}) or a count ({@code Long}) of the input's rows, drawn by the seed
 * @param weight how many times each kept row is written to the output: 0.5 keeps a seeded half of the input's kept
 *               rows (the others go to {@code removed}), 2 writes each twice, 1.5 each once and a seeded half again
 */
public record RecipeInput(String path, DatasetType type, String field, String split, Number sample, double weight)
        implements java.io.Serializable {

    /** Whether {@link #path} names a local file (not an {@code hdfs://}, {@code s3a://}, ... URI). */
    public boolean local() {
        return !path.contains("://") || path.startsWith("file:");
    }

    public Path localPath() {
        return path.startsWith("file:") ? Path.of(java.net.URI.create(path)) : Path.of(path);
    }

    /** The files this input reads, in order; a directory's dataset files in name order (one split when set). */
    public List<Path> files() {
        Path p = localPath();
        if (split == null) {
            return DatasetReader.files(p);
        }
        if (!Files.isDirectory(p)) {
            throw new CrucibleException(p + ": 'split: " + split + "' needs a directory of dataset files");
        }
        Path sub = p.resolve(split);
        if (Files.isDirectory(sub)) {
            return DatasetReader.files(sub);
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(p)) {
            files = s.filter(f -> Files.isRegularFile(f) && isSplit(f.getFileName().toString())).sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(p + ": cannot list: " + e.getMessage(), e);
        }
        List<Path> datasets = files.stream().filter(f -> DatasetReader.isDatasetFile(f)).toList();
        if (datasets.isEmpty()) {
            throw new CrucibleException(p + ": no file of split '" + split + "' (expected " + split + ".jsonl, " + split
                    + "-00000-of-00001.parquet, ... or a " + split + "/ directory)");
        }
        return datasets;
    }

    private boolean isSplit(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        String s = split.toLowerCase(Locale.ROOT);
        return lower.startsWith(s) && lower.length() > s.length() && "-_.".indexOf(lower.charAt(s.length())) >= 0;
    }
}
