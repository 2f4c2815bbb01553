package dev.crucible.eval;

import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Transformer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class GeneratorTest {
    static final Path GEMMA2 = Path.of("testdata/hf/models/gemma2");

    static int[] row(SafetensorsFile f, String name) {
        var t = f.tensor(name);
        int[] out = new int[(int) t.dim(1)];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) t.getLong(i);
        }
        return out;
    }

    @Test
    void greedyGenerationReproducesTransformersGenerate() {
        try (SafetensorsFile ref = SafetensorsFile.open(GEMMA2.resolve("reference.safetensors"));
             Transformer model = Transformer.load(GEMMA2)) {
            int[] prompt = row(ref, "greedy_prompt");
            int[] expected = row(ref, "greedy_ids");
            List<Integer> streamed = new ArrayList<>();
            int[] out = new Generator(model).generate(prompt, expected.length - prompt.length, Sampler.greedy(),
                    Set.of(), t -> streamed.add(t));
            assertArrayEquals(Arrays.copyOfRange(expected, prompt.length, expected.length), out);
            assertEquals(out.length, streamed.size());
        }
    }

    @Test
    void aFollowUpPromptReusesTheCacheWithoutChangingTheResult() {
        try (Transformer model = Transformer.load(GEMMA2)) {
            Generator chat = new Generator(model);
            int[] first = {1, 20, 30, 40};
            int[] reply = chat.generate(first, 5, Sampler.greedy(), Set.of(), t -> true);
            int[] followUp = new int[first.length + reply.length + 2];
            System.arraycopy(first, 0, followUp, 0, first.length);
            System.arraycopy(reply, 0, followUp, first.length, reply.length);
            followUp[followUp.length - 2] = 77;
            followUp[followUp.length - 1] = 78;
            int[] cached = chat.generate(followUp, 6, Sampler.greedy(), Set.of(), t -> true);
            int[] fresh = new Generator(model).generate(followUp, 6, Sampler.greedy(), Set.of(), t -> true);
            assertArrayEquals(fresh, cached);
        }
    }

    @Test
    void generationStopsAfterAStopTokenOrWhenTheCallbackSaysSo() {
        try (Transformer model = Transformer.load(GEMMA2)) {
            int[] prompt = {1, 5, 6};
            int[] free = new Generator(model).generate(prompt, 8, Sampler.greedy(), Set.of(), t -> true);
            int stop = free[2];
            int firstStop = 0;
            while (free[firstStop] != stop) {
                firstStop++;
            }
            int[] stopped = new Generator(model).generate(prompt, 8, Sampler.greedy(), Set.of(stop), t -> true);
            assertArrayEquals(Arrays.copyOf(free, firstStop + 1), stopped, "ends with the stop token");
            int[] cut = new Generator(model).generate(prompt, 8, Sampler.greedy(), Set.of(), t -> false);
            assertEquals(1, cut.length);
        }
    }

    @Test
    void seededSamplingIsReproducibleAndTopKOneIsGreedy() {
        try (Transformer model = Transformer.load(GEMMA2)) {
            int[] prompt = {1, 5, 6};
            int[] a = new Generator(model).generate(prompt, 10, new Sampler(50, 0, 1, 42), Set.of(), t -> true);
            int[] b = new Generator(model).generate(prompt, 10, new Sampler(50, 0, 1, 42), Set.of(), t -> true);
            int[] c = new Generator(model).generate(prompt, 10, new Sampler(50, 0, 1, 43), Set.of(), t -> true);
            assertArrayEquals(a, b);
            assertNotEquals(Arrays.toString(a), Arrays.toString(c));
            int[] greedy = new Generator(model).generate(prompt, 10, Sampler.greedy(), Set.of(), t -> true);
            int[] topOne = new Generator(model).generate(prompt, 10, new Sampler(0.7, 1, 1, 7), Set.of(), t -> true);
            assertArrayEquals(greedy, topOne);
        }
    }
}
