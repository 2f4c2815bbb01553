package dev.crucible.nn;

import dev.crucible.io.Checkpoint;
import dev.crucible.arch.Architecture;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Finds a checkpoint's linear layers: what LoRA's "all-linear" wraps and what QLoRA quantises. */
public final class LinearLayers {
    /** Layer number first (so layer 10 follows layer 9), then name. */
    public static final Comparator<String> BY_LAYER =
            Comparator.comparingInt(Architecture::layerOf).thenComparing(Comparator.naturalOrder());

    private LinearLayers() {
    }

    /** Module paths of the 2-D weights inside the decoder layers, in layer order (embeddings and head excluded). */
    public static List<String> inDecoderLayers(Checkpoint checkpoint) {
        List<String> out = new ArrayList<>();
        for (String name : checkpoint.names().stream().sorted(BY_LAYER).toList()) {
            if (name.startsWith(Architecture.LAYER_PREFIX) && name.endsWith(".weight")
                    && checkpoint.info(name).shape().length == 2) {
                out.add(name.substring(0, name.length() - ".weight".length()));
            }
        }
        return out;
    }
}
