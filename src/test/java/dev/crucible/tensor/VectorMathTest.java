package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorMathTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    @Test
    void fourLaneSumsAtOnceAreBitIdenticalToSeparateOnes() {
        float[] data = GemmTest.random(4 * F.length() * 50, 12);
        float[] out = new float[F.length()];
        for (int i = 0; i < 50; i++) {
            int o = i * 4 * F.length();
            var a = FloatVector.fromArray(F, data, o);
            var b = FloatVector.fromArray(F, data, o + F.length());
            var c = FloatVector.fromArray(F, data, o + 2 * F.length());
            var d = FloatVector.fromArray(F, data, o + 3 * F.length());
            VectorMath.sumLanes4(a, b, c, d, out);
            assertArrayEquals(new float[] {VectorMath.sumLanes(a), VectorMath.sumLanes(b), VectorMath.sumLanes(c),
                    VectorMath.sumLanes(d)}, Arrays.copyOf(out, 4), 0f);
        }
    }

    @Test
    void dotWithOnesSumsEveryElement() {
        float[] v = GemmTest.random(1000, 9);
        double ref = 0;
        for (float f : v) {
            ref += f;
        }
        float[] ones = new float[1000];
        Arrays.fill(ones, 1f);
        float s = VectorMath.dot(v, 0, ones, 0, 1000);
        assertTrue(Math.abs(s - ref) < 1e-3, s + " vs " + ref);
    }

    @Test
    void maxLanesFindsTheLargest() {
        float[] v = GemmTest.random(F.length(), 3);
        v[F.length() / 2 + 1 < F.length() ? F.length() / 2 + 1 : 0] = 5f;
        assertEquals(5f, VectorMath.maxLanes(FloatVector.fromArray(F, v, 0)));
    }

    /** Within one ulp of the correctly rounded e^x over the float range, and Math.exp's special values. */
    @Test
    void expIsWithinOneUlp() {
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[F.length()];
        float[] y = new float[F.length()];
        long worst = 0;
        for (int it = 0; it < 20_000; it++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = it % 2 == 0 ? (float) (r.nextDouble() * 200 - 105) : (float) (r.nextDouble() * 2 - 1);
            }
            VectorMath.exp(FloatVector.fromArray(F, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                float want = (float) StrictMath.exp(x[i]);
                worst = Math.max(worst, Math.abs((long) Float.floatToRawIntBits(want) - Float.floatToRawIntBits(y[i])));
            }
        }
        assertTrue(worst <= 1, "worst error " + worst + " ulp");
        for (float v : new float[] {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0f, -0f, 88.72f, 88.73f,
                -87.4f, -103.9f, -104.5f}) {
            assertEquals((float) Math.exp(v), VectorMath.exp(v), "exp(" + v + ")");
        }
    }
}
