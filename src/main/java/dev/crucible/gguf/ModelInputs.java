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
        requireExists(model);
        return isGguf(model) ? GgufTokenizerFiles.temporaryDirectory(model) : model;
    }

    /** The transformer of a model directory or GGUF file. */
    public static Transformer transformer(Path model) {
        requireExists(model);
        return isGguf(model) ? GgufModel.transformer(model) : Transformer.load(model);
    }

    /** A missing MODEL is named as what it may be (the directory readers would call it a missing directory). */
    public static void requireExists(Path model) {
        if (!Files.exists(model)) {
            throw new CrucibleException(model + ": not found (MODEL is a Hugging Face model directory or a .gguf file)");
        }
    }
}
