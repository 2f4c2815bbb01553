package dev.crucible.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The preference fixture of {@code tools/preference_reference.py}: the Llama test model with the Llama-style
 * byte-level tokenizer, assembled into one model directory as a user has it.
 */
public final class PreferenceFixture {
    public static final Path DIR = Path.of("testdata/hf/training/preference");
    public static final Path DATA = DIR.resolve("data");
    public static final Path ADAPTER = DIR.resolve("adapter");

    private PreferenceFixture() {
    }

    /** Copies the weights and config of {@code testdata/hf/models/llama} and the fixture tokenizer into {@code into}. */
    public static Path modelDir(Path into) {
        try {
            Files.createDirectories(into);
            for (Path from : new Path[] {Path.of("testdata/hf/models/llama"), DIR.resolve("tokenizer")}) {
                try (Stream<Path> files = Files.list(from)) {
                    for (Path f : files.toList()) {
                        if (!f.getFileName().toString().equals("reference.safetensors")) {
                            Files.copy(f, into.resolve(f.getFileName()));
                        }
                    }
                }
            }
            return into;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
