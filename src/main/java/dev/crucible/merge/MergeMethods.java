package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.merge.methods.MethodRegistry;

import java.util.List;

/** The merge methods by their mergekit names. */
public final class MergeMethods {
    private MergeMethods() {
    }

    /** The method called {@code name} in configs; an unknown name fails listing the known ones. */
    public static MergeMethod get(String name) {
        MergeMethod m = MethodRegistry.ALL.get(name);
        if (m == null) {
            throw new CrucibleException("unknown merge_method '" + name + "'; known methods: "
                    + String.join(", ", names()));
        }
        return m;
    }

    /** All method names in registration order. */
    public static List<String> names() {
        return List.copyOf(MethodRegistry.ALL.keySet());
    }
}
