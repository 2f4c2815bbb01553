package dev.crucible.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ordered key/value metadata of a GGUF file. Order is part of the bytes, and the two reference writers
 * order differently on a repeated key: gguf-py's {@code GGUFWriter} overwrites in place ({@link #put}), ggml's
 * {@code gguf_set_*} removes the key and appends it ({@link #set}); each writer here uses the rule of the tool
 * it mirrors.
 */
public final class GgufMetadata {
    public static final String ALIGNMENT = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;

    private final LinkedHashMap<String, GgufValue> entries = new LinkedHashMap<>();

    public GgufMetadata() {
    }

    public GgufMetadata(GgufMetadata other) {
        entries.putAll(other.entries);
    }

    /** Adds or overwrites in place, as gguf-py does. */
    public GgufMetadata put(String key, GgufValue value) {
        entries.put(key, value);
        return this;
    }

    /** Removes and appends, as ggml's {@code gguf_set_*} does. */
    public GgufMetadata set(String key, GgufValue value) {
        entries.remove(key);
        entries.put(key, value);
        return this;
    }

    public GgufMetadata remove(String key) {
        entries.remove(key);
        return this;
    }

    public GgufValue get(String key) {
        return entries.get(key);
    }

    public boolean contains(String key) {
        return entries.containsKey(key);
    }

    public Map<String, GgufValue> entries() {
        return Collections.unmodifiableMap(entries);
    }

    public int size() {
        return entries.size();
    }

    /** The string value of {@code key}, or null when absent or not a string. */
    public String string(String key) {
        GgufValue v = entries.get(key);
        return v != null && v.type() == GgufValueType.STRING ? v.asString() : null;
    }

    /** The tensor data alignment the file declares (default 32). */
    public int alignment() {
        GgufValue v = entries.get(ALIGNMENT);
        return v == null ? DEFAULT_ALIGNMENT : (int) v.asLong();
    }
}
