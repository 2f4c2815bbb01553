package dev.crucible.train;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The {@code checkpoint-N} directories that {@code sft} writes into its output directory, as the Hugging Face
 * Trainer names them. A directory counts as one of Crucible's when it holds the files Crucible writes there
 * ({@code trainer_state.json} and {@code trainable.safetensors}); anything else named {@code checkpoint-N} (a Hugging
 * Face Trainer checkpoint, a user's folder) is never resumed from nor deleted. Removing a checkpoint deletes only the
 * files Crucible wrote into it, and the directory only when that leaves it empty.
 */
public final class TrainingCheckpoints {
    static final String STATE_FILE = "trainer_state.json";
    static final String PARAMS_FILE = "trainable.safetensors";
    static final String OPTIMIZER_FILE = "optimizer.safetensors";
    /** Every file a checkpoint may hold: the training state and, for adapters, a loadable PEFT adapter. */
    private static final List<String> FILES = List.of(STATE_FILE, PARAMS_FILE, OPTIMIZER_FILE, LoraConfig.FILE,
            LoraAdapter.WEIGHTS_FILE);
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d{1,9})");

    private TrainingCheckpoints() {
    }

    /** The directory name of the checkpoint after optimiser step {@code step}. */
    static String name(int step) {
        return "checkpoint-" + step;
    }

    /** Whether {@code dir} is a checkpoint Crucible wrote. */
    public static boolean isCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(STATE_FILE)) && Files.isRegularFile(dir.resolve(PARAMS_FILE));
    }

    /** Crucible's checkpoints in {@code outputDir}, by step, oldest first (none when the directory does not exist). */
    public static List<Path> list(Path outputDir) {
        if (!Files.isDirectory(outputDir)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> entries = Files.list(outputDir)) {
            for (Path p : entries.toList()) {
                if (NAME.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p) && isCheckpoint(p)) {
                    out.add(p);
                }
            }
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot list: " + e.getMessage(), e);
        }
        out.sort(Comparator.comparingInt(TrainingCheckpoints::step));
        return out;
    }

    /** The checkpoint with the highest step in {@code outputDir}, or null: what {@code resume_from_checkpoint: true} means. */
    public static Path latest(Path outputDir) {
        List<Path> all = list(outputDir);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** The step of a {@code checkpoint-N} directory. */
    static int step(Path dir) {
        Matcher m = NAME.matcher(dir.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException(dir + " is not named checkpoint-N");
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * Removes Crucible's checkpoints in {@code outputDir} after step {@code afterStep} (all of them for 0): on a fresh
     * run they belong to an earlier run, on a resumed one to the part of the run being replaced, and either would mix
     * two runs (and {@code resume_from_checkpoint: true} would pick the wrong one).
     */
    static void removeAfter(Path outputDir, int afterStep, Consumer<String> notes) {
        for (Path dir : list(outputDir)) {
            if (step(dir) > afterStep) {
                remove(dir);
                notes.accept("note: removed " + dir + (afterStep == 0 ? ", a checkpoint of an earlier run"
                        : ", a checkpoint after step " + afterStep + " of the run being resumed"));
            }
        }
    }

    /** {@code save_total_limit}: removes the oldest checkpoints until {@code limit} remain (0: keep all). */
    static void rotate(Path outputDir, int limit, Consumer<String> notes) {
        if (limit <= 0) {
            return;
        }
        List<Path> all = list(outputDir);
        for (int i = 0; i < all.size() - limit; i++) {
            remove(all.get(i));
            notes.accept("note: removed " + all.get(i) + " (save_total_limit " + limit + ")");
        }
    }

    private static void remove(Path dir) {
        try {
            for (String f : FILES) {
                Files.deleteIfExists(dir.resolve(f));
            }
            try (Stream<Path> rest = Files.list(dir)) {
                if (rest.findAny().isPresent()) {
                    return; // the user put something there: keep it
                }
            }
            Files.delete(dir);
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot remove the checkpoint: " + e.getMessage(), e);
        }
    }
}
