package dev.crucible.tensor;

import dev.crucible.CrucibleException;

/** Element types of safetensors files, with their on-disk names and sizes. */
public enum DType {
    F64("F64", 8, true),
    F32("F32", 4, true),
    F16("F16", 2, true),
    BF16("BF16", 2, true),
    F8_E4M3("F8_E4M3", 1, true),
    F8_E5M2("F8_E5M2", 1, true),
    I64("I64", 8, false),
    I32("I32", 4, false),
    I16("I16", 2, false),
    I8("I8", 1, false),
    U8("U8", 1, false),
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floatingPoint;

    DType(String safetensorsName, int byteSize, boolean floatingPoint) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The dtype of a safetensors header name, or null when the name is not one. */
    public static DType fromSafetensorsNameOrNull(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /**
     * Parses the dtype names users write in configs: torch names ({@code bfloat16}, {@code float32},
     * {@code torch.float16}, {@code bf16}, ...) and safetensors names.
     */
    public static DType parse(String name) {
        String n = name.trim();
        if (n.startsWith("torch.")) {
            n = n.substring("torch.".length());
        }
        DType st = fromSafetensorsNameOrNull(n.toUpperCase(java.util.Locale.ROOT));
        if (st != null) {
            return st;
        }
        return switch (n.toLowerCase(java.util.Locale.ROOT)) {
            case "float64", "double", "fp64" -> F64;
            case "float32", "float", "fp32" -> F32;
            case "float16", "half", "fp16" -> F16;
            case "bfloat16", "bf16" -> BF16;
            case "float8_e4m3fn", "fp8_e4m3" -> F8_E4M3;
            case "float8_e5m2", "fp8_e5m2" -> F8_E5M2;
            case "int64", "long" -> I64;
            case "int32", "int" -> I32;
            case "int16", "short" -> I16;
            case "int8" -> I8;
            case "uint8" -> U8;
            case "bool" -> BOOL;
            default -> throw new CrucibleException("unknown dtype '" + name
                    + "': expected one of float32, bfloat16, float16, float64, int64, ... or a safetensors name such as BF16");
        };
    }

    /** The name torch and transformers use in config.json ({@code "dtype": "bfloat16"}). */
    public String torchName() {
        return switch (this) {
            case F64 -> "float64";
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F8_E4M3 -> "float8_e4m3fn";
            case F8_E5M2 -> "float8_e5m2";
            case I64 -> "int64";
            case I32 -> "int32";
            case I16 -> "int16";
            case I8 -> "int8";
            case U8 -> "uint8";
            case BOOL -> "bool";
        };
    }
}
