package dev.crucible.peft;

/**
 * The adapter weights on one linear layer {@code y = x W^T} with W of shape [out, in]: A [r, in], B [out, r],
 * and for DoRA the magnitude [out]. Arrays are row-major float32 and are updated in place by training.
 */
public final class LoraModule {
    private final String path;
    private final int in;
    private final int out;
    private final int r;
    private final double scaling;
    private final float[] a;
    private final float[] b;
    private final float[] magnitude;

    public LoraModule(String path, int in, int out, int r, double scaling, float[] a, float[] b, float[] magnitude) {
        if (a.length != r * in || b.length != out * r || (magnitude != null && magnitude.length != out)) {
            throw new IllegalArgumentException(path + ": adapter arrays do not match r=" + r + " in=" + in + " out=" + out);
        }
        this.path = path;
        this.in = in;
        this.out = out;
        this.r = r;
        this.scaling = scaling;
        this.a = a;
        this.b = b;
        this.magnitude = magnitude;
    }

    /** The module's path in the base model, e.g. {@code model.layers.0.self_attn.q_proj}. */
    public String path() {
        return path;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    public int r() {
        return r;
    }

    public double scaling() {
        return scaling;
    }

    public float[] a() {
        return a;
    }

    public float[] b() {
        return b;
    }

    /** DoRA's per-output-row magnitude, or null for plain LoRA. */
    public float[] magnitude() {
        return magnitude;
    }

    public boolean isDora() {
        return magnitude != null;
    }

    /**
     * The merged weight, as PEFT's {@code merge_and_unload}: {@code W + s·B·A}; for DoRA that sum rescaled so that
     * row i has norm {@code magnitude[i]}. {@code w} is [out, in] and is overwritten with the result.
     */
    public void mergeInto(float[] w) {
        if (w.length != out * in) {
            throw new IllegalArgumentException(path + ": base weight has " + w.length + " values, expected " + out * in);
        }
        LoraFold.foldInto(w, out, in, r, scaling, a, b, magnitude, false);
    }
}
