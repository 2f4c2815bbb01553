package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Folds a LoRA/rsLoRA/DoRA adapter into its base model, as PEFT's {@code merge_and_unload()} does, and writes a
 * complete model directory: merged weights (in the requested dtype, else the base's), the base's config with its
 * dtype updated, generation config and tokenizer files. Everything is checked before anything is written, and the
 * output appears only when complete.
 */
public final class LoraMerge {
    /** Shard size transformers' {@code save_pretrained} uses by default. */
    public static final long MAX_SHARD_BYTES = 5_000_000_000L;

    /** Called after each tensor with the tensors and bytes written so far. */
    public interface Progress {
        void update(int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal);
    }

    private LoraMerge() {
    }

    /**
     * @param dtype the output dtype of floating-point tensors; null keeps the base's (its config's dtype, or each
     *              tensor's own when the config names none)
     */
    public static void merge(Path baseDir, Path adapterDir, Path outDir, DType dtype, Progress progress) {
        if (dtype != null && !dtype.isFloatingPoint()) {
            throw new CrucibleException("--dtype " + dtype.torchName() + " is not a floating-point type");
        }
        ModelDirectory base = ModelDirectory.open(baseDir);
        ModelConfig config = base.config();
        LoraAdapter adapter = LoraAdapter.load(adapterDir);
        DType target = dtype != null ? dtype : config.dtype();
        try (Checkpoint weights = base.openCheckpoint()) {
            adapter.checkAgainst(weights);
            List<TensorSpec> specs = new ArrayList<>();
            long totalBytes = 0;
            for (String name : weights.names()) {
                TensorInfo info = weights.info(name);
                DType out = target != null && info.dtype().isFloatingPoint() ? target : info.dtype();
                TensorSpec spec = new TensorSpec(name, out, info.shape());
                specs.add(spec);
                totalBytes += spec.byteSize();
            }
            try (StagedDirectory staged = StagedDirectory.create(outDir)) {
                ShardedWriter writer = new ShardedWriter(staged.path(), specs, MAX_SHARD_BYTES, Map.of("format", "pt"));
                try (writer) {
                    long done = 0;
                    for (int i = 0; i < specs.size(); i++) {
                        TensorSpec spec = specs.get(i);
                        writer.write(spec.name(), mergedTensor(weights.tensor(spec.name()), spec, adapter));
                        done += spec.byteSize();
                        if (progress != null) {
                            progress.update(i + 1, specs.size(), done, totalBytes);
                        }
                    }
                    writer.finish();
                }
                writeConfig(config, target, staged.path());
                copyIfPresent(baseDir.resolve(ModelDirectory.GENERATION_CONFIG), staged.path());
                base.copyTokenizerTo(staged.path());
                staged.publish();
            }
        }
    }

    private static Tensor mergedTensor(Tensor weight, TensorSpec spec, LoraAdapter adapter) {
        return merged(spec.name(), weight, spec.dtype(), adapter);
    }

    /** Whether the adapter changes tensor {@code name} of the base (a LoRA target's weight or a modules_to_save tensor). */
    public static boolean changes(LoraAdapter adapter, String name) {
        return adapter.savedTensors().containsKey(name) || name.endsWith(".weight")
                && adapter.modules().containsKey(name.substring(0, name.length() - ".weight".length()));
    }

    /**
     * Tensor {@code name} of the merged model in {@code dtype}: the base's {@code weight} with the adapter's B·A folded
     * in (PEFT's {@code merge_and_unload}), the adapter's whole copy for a {@code modules_to_save} tensor, else the
     * base's tensor (converted when its dtype differs).
     */
    public static Tensor merged(String name, Tensor weight, DType dtype, LoraAdapter adapter) {
        LoraAdapter.SavedTensor saved = adapter.savedTensors().get(name);
        if (saved != null) {
            return Tensor.fromFloats(dtype, saved.values(), saved.shape());
        }
        LoraModule module = name.endsWith(".weight")
                ? adapter.modules().get(name.substring(0, name.length() - ".weight".length())) : null;
        if (module == null) {
            return weight.dtype() == dtype ? weight : weight.to(dtype);
        }
        float[] w = weight.toFloatArray();
        module.mergeInto(w);
        return Tensor.fromFloats(dtype, w, weight.shape());
    }

    private static void writeConfig(ModelConfig config, DType target, Path dir) {
        ObjectNode json = config.json();
        if (target != null) {
            boolean any = false;
            for (String key : List.of("dtype", "torch_dtype")) {
                if (json.has(key)) {
                    json.put(key, target.torchName());
                    any = true;
                }
            }
            if (!any) {
                json.put("dtype", target.torchName());
            }
        }
        try {
            Files.writeString(dir.resolve(ModelDirectory.CONFIG),
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json) + "\n");
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write config.json: " + e.getMessage(), e);
        }
    }

    private static void copyIfPresent(Path file, Path dir) {
        if (Files.isRegularFile(file)) {
            try {
                Files.copy(file, dir.resolve(file.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new CrucibleException(file + ": cannot copy to " + dir + ": " + e.getMessage(), e);
            }
        }
    }
}
