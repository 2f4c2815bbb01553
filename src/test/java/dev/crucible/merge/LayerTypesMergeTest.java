package dev.crucible.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A frankenmerge rewrites {@code layer_types} to follow the stacked layers: transformers refuses a config whose
 * list does not match {@code num_hidden_layers}, and each copied layer keeps the attention type it was trained with.
 */
class LayerTypesMergeTest {
    @TempDir
    Path tmp;

    @Test
    void stackedGemma2LayersKeepTheirAttentionTypes() throws Exception {
        Path model = Path.of("testdata/hf/models/gemma2").toAbsolutePath();
        Path cfg = tmp.resolve("stack.yml");
        Files.writeString(cfg, "merge_method: passthrough\nslices:\n"
                + "  - sources:\n      - model: " + model + "\n        layer_range: [0, 2]\n"
                + "  - sources:\n      - model: " + model + "\n        layer_range: [1, 3]\n"
                + "dtype: bfloat16\n");
        Path out = tmp.resolve("out");
        var r = crucible("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());

        var config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        List<String> types = new ArrayList<>();
        config.get("layer_types").forEach(t -> types.add(t.asText()));
        // source layers 0, 1 | 1, 2 of [sliding, full, sliding]
        assertEquals(List.of("sliding_attention", "full_attention", "full_attention", "sliding_attention"), types);
        assertEquals(4, config.get("num_hidden_layers").asInt());
        try (Transformer t = Transformer.load(out)) {
            assertArrayEquals(new int[] {8, 0, 0, 8}, t.spec().slidingWindows());
        }
    }
}
