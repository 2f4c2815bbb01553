package dev.crucible.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.io.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's quickstart: generate the example models, then every config in examples/ merges. */
class ExamplesTest {
    @TempDir
    Path tmp;

    @Test
    void everyExampleConfigMergesTheGeneratedModels() throws Exception {
        Path models = tmp.resolve("models");
        var made = crucible("examples", "make-models", models.toString());
        assertEquals(0, made.exitCode(), made.err());
        List<Path> configs;
        try (var s = Files.list(Path.of("examples"))) {
            configs = s.filter(p -> p.toString().endsWith(".yml")).sorted().toList();
        }
        assertTrue(configs.size() >= 4, configs.toString());
        for (Path cfg : configs) {
            Path copy = tmp.resolve(cfg.getFileName());
            Files.writeString(copy, Files.readString(cfg).replace("examples/models", models.toString()));
            Path out = tmp.resolve("out-" + cfg.getFileName());
            var r = crucible("merge", copy.toString(), out.toString(), "--random-seed", "42", "--quiet");
            assertEquals(0, r.exitCode(), cfg + ": " + r.err());
            try (Checkpoint c = Checkpoint.open(out)) {
                int layers = new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("num_hidden_layers").asInt();
                assertEquals(cfg.toString().contains("frankenmerge") ? 8 : 4, layers, cfg.toString());
                assertEquals(3 + 9 * layers, c.names().size(), cfg.toString());
            }
        }
    }
}
