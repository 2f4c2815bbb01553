package dev.crucible.merge.methods;

import dev.crucible.merge.MergeMethod;
import dev.crucible.merge.methods.GeneralizedTaskArithmetic.Sparsification;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The method instances (stateless, shared by all threads); public access goes through {@code MergeMethods}. */
public final class MethodRegistry {
    private MethodRegistry() {
    }

    public static final Map<String, MergeMethod> ALL = build();

    private static Map<String, MergeMethod> build() {
        Map<String, MergeMethod> m = new LinkedHashMap<>();
        for (MergeMethod method : new MergeMethod[] {
                new Linear(),
                new Slerp(),
                new ModelStock(),
                new NearSwap(),
                new Passthrough(),
                new Ram(false),
                new Ram(true),
                new Sce(),
                new NuSlerp(),
                new MultiSlerp(),
                new Karcher(),
                new ArceeFusion(),
                gta("task_arithmetic", Sparsification.NONE, false, false, false),
                gta("ties", Sparsification.MAGNITUDE, true, true, false),
                gta("dare_ties", Sparsification.RANDOM, true, false, true),
                gta("dare_linear", Sparsification.RANDOM, false, false, true),
                gta("breadcrumbs", Sparsification.MAGNITUDE_OUTLIERS, false, false, false),
                gta("breadcrumbs_ties", Sparsification.MAGNITUDE_OUTLIERS, true, false, false),
                gta("della", Sparsification.DELLA, true, true, true),
                gta("della_linear", Sparsification.DELLA, false, false, true),
        }) {
            m.put(method.name(), method);
        }
        return Collections.unmodifiableMap(m);
    }

    private static MergeMethod gta(String name, Sparsification s, boolean consensus, boolean normalize,
                                   boolean rescale) {
        return new GeneralizedTaskArithmetic(name, s, consensus, normalize, rescale);
    }
}
