package dev.crucible.model;

import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixtral checkpoints in transformers 5's fused layout ({@code mlp.experts.gate_up_proj} / {@code down_proj},
 * router {@code mlp.gate.weight}) run exactly like the same weights in the per-expert layout
 * ({@code block_sparse_moe.experts.N.w1/w2/w3}): the runtime fixture is rewritten fused and both must give
 * bit-identical logits, which also match the transformers reference.
 */
class FusedMixtralLayoutTest {
    static final Path MIXTRAL = Path.of("testdata/hf/models/mixtral");

    /** The per-expert checkpoint rewritten in the fused layout; gate rows before up rows in gate_up_proj. */
    static Path writeFused(Path dir, Map<String, Tensor> override) throws IOException {
        Files.createDirectories(dir);
        Files.copy(MIXTRAL.resolve("config.json"), dir.resolve("config.json"));
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Checkpoint ckpt = Checkpoint.open(MIXTRAL)) {
            int experts = 4;
            for (String name : ckpt.names()) {
                if (!name.contains("block_sparse_moe")) {
                    out.put(name, ckpt.tensor(name).to(ckpt.tensor(name).dtype()));
                }
            }
            for (int l = 0; l < 3; l++) {
                String p = "model.layers." + l + ".block_sparse_moe.";
                String q = "model.layers." + l + ".mlp.";
                Tensor router = ckpt.tensor(p + "gate.weight");
                out.put(q + "gate.weight", router.to(router.dtype()));
                Tensor w1 = ckpt.tensor(p + "experts.0.w1.weight");
                Tensor w2 = ckpt.tensor(p + "experts.0.w2.weight");
                long half = w1.byteSize();
                MemorySegment gateUp = Tensor.heapSegment(experts * 2 * half);
                MemorySegment down = Tensor.heapSegment(experts * w2.byteSize());
                for (int e = 0; e < experts; e++) {
                    gateUp.asSlice(2 * e * half, half).copyFrom(ckpt.tensor(p + "experts." + e + ".w1.weight").data());
                    gateUp.asSlice((2 * e + 1) * half, half).copyFrom(ckpt.tensor(p + "experts." + e + ".w3.weight").data());
                    down.asSlice(e * w2.byteSize(), w2.byteSize()).copyFrom(ckpt.tensor(p + "experts." + e + ".w2.weight").data());
                }
                out.put(q + "experts.gate_up_proj", new Tensor(w1.dtype(), new long[] {experts, 2 * w1.dim(0), w1.dim(1)}, gateUp));
                out.put(q + "experts.down_proj", new Tensor(w2.dtype(), new long[] {experts, w2.dim(0), w2.dim(1)}, down));
            }
        }
        out.putAll(override);
        SafetensorsWriter.write(dir.resolve("model.safetensors"), out);
        return dir;
    }

    @Test
    void fusedAndPerExpertLayoutsGiveIdenticalLogits(@TempDir Path tmp) throws IOException {
        Path fused = writeFused(tmp.resolve("fused"), Map.of());
        try (SafetensorsFile ref = SafetensorsFile.open(MIXTRAL.resolve("reference.safetensors"));
             Transformer perExpert = Transformer.load(MIXTRAL);
             Transformer f = Transformer.load(fused)) {
            assertFalse(perExpert.spec().architecture().fusedExperts());
            assertTrue(f.spec().architecture().fusedExperts());
            int[][] ids = TransformerFidelityTest.ids(ref.tensor("input_ids"));
            float[] a = perExpert.forward(ids, perExpert.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
            float[] b = f.forward(ids, f.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
            assertArrayEquals(a, b);
            double err = TransformerFidelityTest.relativeError(b, ref.tensor("logits").toFloatArray());
            assertTrue(err < TransformerFidelityTest.TOLERANCE, "fused logits vs transformers: " + err);
            assertEquals(perExpert.weights().matrixBytes(), f.weights().matrixBytes());
        }
    }

    @Test
    void aFusedTensorOfTheWrongShapeIsNamed(@TempDir Path tmp) throws IOException {
        Path bad = writeFused(tmp.resolve("bad"), Map.of("model.layers.1.mlp.experts.down_proj",
                Tensor.fromFloats(DType.BF16, new float[3 * 64 * 96], 3, 64, 96)));
        var e = assertThrows(RuntimeException.class, () -> Transformer.load(bad));
        assertTrue(e.getMessage().contains("model.layers.1.mlp.experts.down_proj")
                && e.getMessage().contains("[4, 64, 96]"), e.getMessage());
    }

    /** Merge and inspect read the fused layout too: a passthrough stack computes what the per-expert stack does. */
    @Test
    void crucibleMergeStacksAFusedCheckpoint(@TempDir Path tmp) throws IOException {
        Path fused = writeFused(tmp.resolve("fused"), Map.of());
        float[][] logits = new float[2][];
        int k = 0;
        for (Path model : new Path[] {MIXTRAL.toAbsolutePath(), fused}) {
            Path cfg = tmp.resolve("stack" + k + ".yml");
            Files.writeString(cfg, "merge_method: passthrough\nslices:\n"
                    + "  - sources:\n      - model: " + model + "\n        layer_range: [0, 2]\n"
                    + "  - sources:\n      - model: " + model + "\n        layer_range: [1, 3]\n");
            CliRun r = CliRun.of("merge", cfg.toString(), tmp.resolve("stack" + k).toString(), "--quiet");
            assertEquals(0, r.exitCode(), r.err());
            try (Transformer t = Transformer.load(tmp.resolve("stack" + k))) {
                assertEquals(4, t.spec().layers());
                assertEquals(k == 1, t.spec().architecture().fusedExperts());
                logits[k++] = t.forward(new int[][] {{1, 2, 3, 300}}, t.newCache(1, 4), Transformer.Logits.ALL, null);
            }
        }
        assertArrayEquals(logits[0], logits[1]);
        CliRun inspect = CliRun.of("inspect", fused.toString());
        assertEquals(0, inspect.exitCode(), inspect.err());
    }
}
