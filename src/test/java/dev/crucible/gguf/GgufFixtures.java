package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.merge.SyntheticModels;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The GGUF reference fixtures of testdata/gguf (made by tools/gguf_fixtures.py with llama.cpp's converter and
 * llama-quantize): model directories assembled exactly as the script assembles them, and the expected digests.
 */
final class GgufFixtures {
    static final Path ROOT = Path.of("testdata/gguf");
    static final Path MODELS = Path.of("testdata/hf/models");

    private GgufFixtures() {
    }

    static JsonNode fixtures() {
        return read(ROOT.resolve("fixtures.json"));
    }

    static JsonNode references() {
        return read(ROOT.resolve("reference.json"));
    }

    static JsonNode dequantized() {
        return read(ROOT.resolve("dequantized.json"));
    }

    static List<String> names() {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = fixtures().fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names;
    }

    private static JsonNode read(Path p) {
        try {
            return new ObjectMapper().readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model directory of fixture {@code name}, in {@code parent/name} (the folder name is general.name). */
    static Path assemble(String name, Path parent) {
        return assemble(name, parent, name);
    }

    /** As {@link #assemble(String, Path)} in a folder of another name (general.name follows the folder). */
    static Path assemble(String name, Path parent, String folder) {
        JsonNode spec = fixtures().get(name);
        Path dir = parent.resolve(folder);
        try {
            if (spec.has("synthetic")) {
                SyntheticModels.write(dir, SyntheticModels.Shape.GGUF_KQUANT, 0, 0, 0, 2);
            } else {
                Files.createDirectories(dir);
                copyAll(MODELS.resolve(spec.get("weights").asText()), dir, "reference.safetensors");
            }
            copyAll(ROOT.resolve(spec.get("tokenizer").asText()), dir, null);
            if (spec.has("card")) {
                Files.copy(ROOT.resolve(spec.get("card").asText()), dir.resolve("README.md"));
            }
            if (spec.has("generation_config")) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode gen = (ObjectNode) m.readTree(dir.resolve("generation_config.json").toFile());
                gen.setAll((ObjectNode) spec.get("generation_config"));
                Files.writeString(dir.resolve("generation_config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(gen));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    static String pre(String name) {
        JsonNode p = fixtures().get(name).get("pre");
        return p == null ? null : p.asText();
    }

    private static void copyAll(Path from, Path to, String except) throws IOException {
        try (Stream<Path> s = Files.list(from)) {
            for (Path f : s.toList()) {
                if (!f.getFileName().toString().equals(except)) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }

    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
