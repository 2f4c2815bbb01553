package dev.crucible.merge.methods;

import dev.crucible.merge.MergeMethod;

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
        for (MergeMethod method : new MergeMethod[] {new Linear()}) {
            m.put(method.name(), method);
        }
        return Collections.unmodifiableMap(m);
    }
}
