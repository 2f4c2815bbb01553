package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.io.OutputCheck;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Run a model on token ids from a safetensors file and write the logits (and hidden states).")
final class ForwardCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory or GGUF file")
    Path modelDir;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors",
            description = "holds an integer tensor input_ids [batch, seq]")
    Path input;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors",
            description = "gets F32 logits [batch, seq, vocab]")
    Path out;

    @Option(names = "--hidden-states", description = "also write hidden_states.K (K=0 embeddings, K=L after the final norm)")
    boolean hiddenStates;

    @Override
    public Integer call() {
        // an existing --out is replaced as before; never the input or a file of the model
        OutputCheck.of(out, "--out").reads("the model", modelDir).reads("the input", input).file(true);
        int[][] ids = readIds(input);
        try (Transformer model = ModelInputs.transformer(modelDir)) {
            int batch = ids.length, seq = ids[0].length;
            Map<String, Tensor> outputs = new LinkedHashMap<>();
            Map<String, Tensor> hidden = new LinkedHashMap<>();
            int h = model.spec().hidden();
            float[] logits = model.forward(ids, model.newCache(batch, seq), Transformer.Logits.ALL,
                    hiddenStates ? (k, states) -> hidden.put("hidden_states." + k,
                            Tensor.ofFloats(states, batch, seq, h)) : null);
            outputs.put("logits", Tensor.ofFloats(logits, batch, seq, model.spec().vocab()));
            outputs.putAll(hidden);
            SafetensorsWriter.write(out, outputs);
        }
        return 0;
    }

    static int[][] readIds(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!f.contains("input_ids")) {
                throw new CrucibleException(file + ": no tensor named 'input_ids' (expected I64 [batch, seq])");
            }
            Tensor t = f.tensor("input_ids");
            if (t.rank() != 2 || t.dim(0) == 0 || t.dim(1) == 0
                    || (t.dtype() != DType.I64 && t.dtype() != DType.I32)) {
                throw new CrucibleException(file + ": tensor 'input_ids' is " + t + ", expected I64 [batch, seq]");
            }
            int rows = (int) t.dim(0), cols = (int) t.dim(1);
            int[][] ids = new int[rows][cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    ids[r][c] = Math.toIntExact(t.getLong((long) r * cols + c));
                }
            }
            return ids;
        }
    }
}
