package dev.crucible.gguf;

import dev.crucible.model.Transformer;

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
        return isGguf(model) ? GgufTokenizerFiles.temporaryDirectory(model) : model;
    }

    /** The transformer of a model directory or GGUF file. */
    public static Transformer transformer(Path model) {
        return isGguf(model) ? GgufModel.transformer(model) : Transformer.load(model);
    }
}
