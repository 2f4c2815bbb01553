package dev.crucible.cli;

import dev.crucible.eval.LanguageModel;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;

/** The MODEL argument and {@code --adapter} of the commands that run a model ({@code generate}, {@code chat}, {@code eval perplexity}). */
final class ModelAndAdapter {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory with a tokenizer (and a"
            + " chat template, for chat), a GGUF file, or a PEFT adapter directory (such as sft's output) whose"
            + " adapter_config.json names its base model")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter (LoRA, rsLoRA, DoRA) to apply to MODEL"
            + " without writing a merged model; the results equal those of 'lora merge --dtype float32'")
    Path adapter;

    /** Loads the model with its adapter; {@code warnings} (may be null) gets notes on the adapter and the context. */
    LanguageModel load(PrintWriter warnings) {
        return new LanguageModel(model, adapter, warnings);
    }
}
