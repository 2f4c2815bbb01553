package dev.crucible.data.recipe;

import dev.crucible.data.DatasetReader;
import dev.crucible.data.DatasetSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The rows of a recipe's inputs in run order, read again for each pass (nothing is held between passes but the
 * per-row decisions). Files are named in messages and reasons relative to the recipe's directory when inside it.
 */
final class RowStream {
    private final List<List<Path>> files = new ArrayList<>();
    private final List<DatasetSource> sources = new ArrayList<>();
    private final Path base;

    RowStream(Recipe recipe) {
        this.base = recipe.file().toAbsolutePath().getParent();
        for (RecipeInput in : recipe.inputs()) {
            sources.add(in.source());
            files.add(sources.getLast().files());
        }
    }

    interface Sink {
        void accept(RawRow row);
    }

    /** Every row of every input, in order; ordinals count from 0. */
    void forEach(Sink sink) {
        int[] ordinal = {0};
        for (int i = 0; i < files.size(); i++) {
            int input = i;
            List<Path> list = files.get(i);
            for (int f = 0; f < list.size(); f++) {
                int file = f;
                String name = display(list.get(f));
                DatasetReader.stream(list.get(f), sources.get(i).fileFormat(list.get(f)), (unit, number, json) ->
                        sink.accept(new RawRow(ordinal[0]++, input, file, name, unit, number, json)));
            }
        }
    }

    /** The name of a file in messages: relative to the recipe's directory when inside it. */
    String display(Path file) {
        return display(base, file);
    }

    static String display(Path base, Path file) {
        Path abs = file.toAbsolutePath().normalize();
        return base != null && abs.startsWith(base) ? base.relativize(abs).toString() : abs.toString();
    }

    /** The number of records of all inputs, counted cheaply ({@link DatasetReader#count}) for the progress bar. */
    long count() {
        long n = 0;
        for (int i = 0; i < files.size(); i++) {
            for (Path f : files.get(i)) {
                n += DatasetReader.count(f, sources.get(i).fileFormat(f));
            }
        }
        return n;
    }
}
