package dev.crucible.merge.methods;

import dev.crucible.io.Checkpoint;
import dev.crucible.merge.MergeInputs;
import dev.crucible.merge.MergeMethod;
import dev.crucible.merge.MergeMethods;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Runs one method over the tensors of mergekit's fixture models without the merge framework: the test states the
 * config's parameters per tensor by hand, this class fills the method's defaults, merges every tensor of the
 * fixture output and compares.
 */
final class MergekitFixtures {
    static final Path ROOT = Path.of("testdata/mergekit");
    private static final Map<String, Checkpoint> OPEN = new ConcurrentHashMap<>();

    private MergekitFixtures() {
    }

    static Checkpoint model(String name) {
        return OPEN.computeIfAbsent(name, n -> Checkpoint.open(ROOT.resolve("models").resolve(n)));
    }

    static Checkpoint output(String caseName) {
        return OPEN.computeIfAbsent("out:" + caseName, n -> Checkpoint.open(ROOT.resolve("outputs").resolve(caseName)));
    }

    /** Per-tensor comparison against the fixture. */
    record Comparison(String tensor, long identical, long total, Tensor actual, Tensor expected) {
        double fraction() {
            return total == 0 ? 1 : (double) identical / total;
        }
    }

    /** A case: method, input models in config order (base first when it is not listed), parameters per tensor. */
    static final class Case {
        final String name;
        final String method;
        final List<String> models = new ArrayList<>();
        int baseIndex = -1;
        BiFunction<String, Integer, Map<String, Object>> modelParams = (t, i) -> Map.of();
        Function<String, Map<String, Object>> globalParams = t -> Map.of();
        long seed = 42;

        Case(String name, String method) {
            this.name = name;
            this.method = method;
        }

        Case base(String model) {
            baseIndex = models.size();
            models.add(model);
            return this;
        }

        Case models(String... names) {
            models.addAll(List.of(names));
            return this;
        }

        Case modelParams(BiFunction<String, Integer, Map<String, Object>> f) {
            modelParams = f;
            return this;
        }

        Case modelParams(List<Map<String, Object>> perModel) {
            modelParams = (t, i) -> perModel.get(i);
            return this;
        }

        Case global(Map<String, Object> g) {
            globalParams = t -> g;
            return this;
        }

        Case global(Function<String, Map<String, Object>> g) {
            globalParams = g;
            return this;
        }

        MergeInputs inputs(String tensor) {
            MergeMethod m = MergeMethods.get(method);
            List<Tensor> tensors = new ArrayList<>();
            List<Map<String, Object>> mp = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) {
                tensors.add(model(models.get(i)).tensor(tensor));
                mp.add(withDefaults(m.modelParameters(), modelParams.apply(tensor, i)));
            }
            return new MergeInputs(tensor, List.copyOf(models), tensors, baseIndex, mp,
                    withDefaults(m.globalParameters(), globalParams.apply(tensor)), DType.BF16, seed);
        }

        Tensor merge(String tensor) {
            return MergeMethods.get(method).merge(inputs(tensor));
        }

        /** Merges every tensor of the fixture output and compares bits. */
        List<Comparison> compare() {
            Checkpoint expected = output(name);
            List<Comparison> out = new ArrayList<>();
            for (String t : expected.names()) {
                Tensor e = expected.tensor(t);
                Tensor a = merge(t);
                assertEquals(e.dtype(), a.dtype(), name + " " + t + " dtype");
                assertArrayEquals(e.shape(), a.shape(), name + " " + t + " shape");
                float[] ev = e.toFloatArray();
                float[] av = a.toFloatArray();
                long same = 0;
                for (int i = 0; i < ev.length; i++) {
                    if (Float.floatToRawIntBits(ev[i]) == Float.floatToRawIntBits(av[i])) {
                        same++;
                    }
                }
                out.add(new Comparison(t, same, ev.length, a, e));
            }
            return out;
        }
    }

    static Map<String, Object> withDefaults(Map<String, Object> declared, Map<String, Object> given) {
        Map<String, Object> m = new LinkedHashMap<>();
        declared.forEach((k, v) -> {
            if (v != null) {
                m.put(k, v);
            }
        });
        m.putAll(given);
        return m;
    }

    static Map<String, Object> p(Object... kv) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** mergekit's gradient: a list of values spread over the layers of a slice; outside layers at position 0. */
    static double gradient(String tensor, int numLayers, double... values) {
        int layer = layerOf(tensor);
        double pos = layer < 0 ? 0 : (numLayers <= 1 ? 0 : (double) layer / (numLayers - 1));
        if (values.length == 1) {
            return values[0];
        }
        double scaled = pos * (values.length - 1);
        int i0 = (int) scaled;
        int i1 = Math.min(values.length - 1, i0 + 1);
        double frac = scaled - i0;
        return (1 - frac) * values[i0] + frac * values[i1];
    }

    static int layerOf(String tensor) {
        String prefix = "model.layers.";
        if (!tensor.startsWith(prefix)) {
            return -1;
        }
        int end = tensor.indexOf('.', prefix.length());
        return Integer.parseInt(tensor.substring(prefix.length(), end));
    }
}
