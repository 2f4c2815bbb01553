package dev.crucible.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The generator behind the reproduced torch draws (moe_random's fixture routers are the end-to-end check, in
 * MoeFidelityTest): the engine is the standard MT19937, uniforms have 24 bits, normals are Box-Muller pairs.
 */
class TorchRandomTest {
    @Test
    void engineIsTheStandardMersenneTwister() {
        TorchRandom r = new TorchRandom(5489);
        assertEquals(3499211612L, r.nextInt32()); // first output for the reference seed
        for (int i = 2; i < 10000; i++) {
            r.nextInt32();
        }
        assertEquals(4123659995L, r.nextInt32()); // the 10000th, as the C++ standard requires of std::mt19937
    }

    @Test
    void uniformsTakeTheLow24BitsOfOneDraw() {
        TorchRandom bits = new TorchRandom(7);
        TorchRandom uniforms = new TorchRandom(7);
        for (int i = 0; i < 1000; i++) {
            float u = uniforms.uniform();
            assertEquals((bits.nextInt32() & 0xFFFFFF) / 16777216f, u);
            assertTrue(u >= 0 && u < 1);
        }
    }

    @Test
    void normalsAreBoxMullerPairsOfTheUniforms() {
        float[] u = new TorchRandom(3).rand(16);
        float[] n = new TorchRandom(3).randn(16);
        for (int j = 0; j < 8; j++) {
            double radius = Math.sqrt(-2 * Math.log(1 - u[j]));
            double theta = 2 * Math.PI * u[j + 8];
            assertEquals(radius * Math.cos(theta), n[j], 1e-5);
            assertEquals(radius * Math.sin(theta), n[j + 8], 1e-5);
        }
        // a length that is not a multiple of 16 redraws its last 16 values from fresh uniforms
        float[] longer = new TorchRandom(3).randn(20);
        assertEquals(n[0], longer[0]);
        assertTrue(longer[4] != n[4] || longer[12] != n[12]);
        assertThrows(IllegalArgumentException.class, () -> new TorchRandom(3).randn(15));
    }

    @Test
    void normalsHaveUnitVariance() {
        float[] x = new TorchRandom(42).randn(200_000);
        double mean = 0;
        double sq = 0;
        for (float v : x) {
            mean += v;
            sq += (double) v * v;
        }
        mean /= x.length;
        double var = sq / x.length - mean * mean;
        assertEquals(0, mean, 0.01);
        assertEquals(1, var, 0.01);
    }
}
