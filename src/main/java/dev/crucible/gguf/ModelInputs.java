package dev.crucible.gguf;

import dev.crucible.CrucibleException;
import dev.crucible.model.Transformer;

import java.nio.file.Files;
import java.nio.file.Path;

/** What a command's MODEL argument may be: a Hugging Face model directory or a GGUF file. */
public final class ModelInputs {
    private ModelInputs() {
    }

    public static boolean isGguf(Path model) {
        return GgufFile.isGguf(model);
    }

    /** The directory with config, tokenizer and chat template: the model's, or one made from a GGUF file's metadata. */
    public static Path huggingFaceFiles(Path model) {
        requireModelPath(model);
        return isGguf(model) ? GgufTokenizerFiles.temporaryDirectory(model) : model;
    }

    /** The transformer of a model directory or GGUF file. */
    public static Transformer transformer(Path model) {
        requireModelPath(model);
        return isGguf(model) ? GgufModel.transformer(model) : Transformer.load(model);
    }

    /**
     * Refuses a MODEL that can be neither, naming what it may be (the directory readers alone would call a missing
     * path, or a file, a missing directory).
     */
    public static void requireModelPath(Path model) {
        if (!Files.exists(model)) {
            throw new CrucibleException(model + ": not found (MODEL is a Hugging Face model directory or a .gguf file)");
        }
        if (!Files.isDirectory(model) && !isGguf(model)) {
            throw new CrucibleException(model + ": not a GGUF file (MODEL is a Hugging Face model directory or a .gguf"
                    + " file)");
        }
    }
}
