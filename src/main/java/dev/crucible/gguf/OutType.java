package dev.crucible.gguf;

import dev.crucible.CrucibleException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The types {@code crucible export gguf} writes. f32, f16, bf16 and q8_0 are those of llama.cpp's
 * {@code convert_hf_to_gguf.py --outtype}; the others are {@code llama-quantize} presets applied to the
 * converter's f32 output (for a bf16 or f16 checkpoint that is the same file as quantising its bf16 or f16
 * conversion: every tensor llama-quantize keeps unquantised is float32 in both).
 */
public enum OutType {
    F32(0, GgmlType.F32, true), F16(1, GgmlType.F16, true), BF16(32, GgmlType.BF16, true), Q8_0(7, GgmlType.Q8_0, true),
    Q4_0(2, GgmlType.Q4_0, false), Q4_K_M(15, GgmlType.Q4_K, false), Q5_K_M(17, GgmlType.Q5_K, false),
    Q6_K(18, GgmlType.Q6_K, false);

    /** llama.cpp's llama_ftype, stored as general.file_type. */
    public final int fileType;
    /** The type of the quantised tensors (before the preset's per-tensor choices). */
    public final GgmlType defaultType;
    /** Written by the converter itself rather than llama-quantize. */
    public final boolean converter;

    OutType(int fileType, GgmlType defaultType, boolean converter) {
        this.fileType = fileType;
        this.defaultType = defaultType;
        this.converter = converter;
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static OutType parse(String s) {
        for (OutType t : values()) {
            if (t.cliName().equalsIgnoreCase(s)) {
                return t;
            }
        }
        throw new CrucibleException("unknown GGUF type '" + s + "' (expected one of "
                + Arrays.stream(values()).map(OutType::cliName).collect(Collectors.joining(", ")) + ")");
    }
}
