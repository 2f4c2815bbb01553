package dev.crucible.cli;

import dev.crucible.gguf.GgufFile;
import dev.crucible.gguf.GgufModel;
import dev.crucible.gguf.GgufTokenizerFiles;
import dev.crucible.model.Transformer;

import java.nio.file.Path;

/** What a command's MODEL argument may be: a Hugging Face model directory or a GGUF file. */
final class ModelInputs {
    private ModelInputs() {
    }

    static boolean isGguf(Path model) {
        return GgufFile.isGguf(model);
    }

    /** The directory with config, tokenizer and chat template: the model's, or one made from a GGUF file's metadata. */
    static Path huggingFaceFiles(Path model) {
        return isGguf(model) ? GgufTokenizerFiles.temporaryDirectory(model) : model;
    }

    /** The transformer of a model directory or GGUF file. */
    static Transformer transformer(Path model) {
        return isGguf(model) ? GgufModel.transformer(model) : Transformer.load(model);
    }
}
