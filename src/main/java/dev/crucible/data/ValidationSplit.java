package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code val_set_size}: a fraction in (0, 1) of the examples (rounded up, as Hugging Face's
 * {@code train_test_split}) or, from 1 on, a count. The validation examples are a random subset chosen by the
 * seed; both parts keep dataset order, so the split depends only on the examples, the size and the seed.
 */
public final class ValidationSplit {
    private ValidationSplit() {
    }

    public record Split<T>(List<T> train, List<T> validation) {
    }

    public static int validationCount(double valSetSize, int n) {
        if (valSetSize < 0 || Double.isNaN(valSetSize)) {
            throw new CrucibleException("val_set_size must be a fraction in [0, 1) or a count, got " + valSetSize);
        }
        int count;
        if (valSetSize < 1) {
            count = (int) Math.ceil(valSetSize * n);
        } else {
            if (valSetSize != Math.rint(valSetSize)) {
                throw new CrucibleException("val_set_size " + valSetSize + " is neither a fraction below 1 nor a whole count");
            }
            count = (int) valSetSize;
        }
        if (count > 0 && count >= n) {
            throw new CrucibleException("val_set_size " + valSetSize + " leaves no training examples (" + n
                    + " examples, " + count + " for validation)");
        }
        return count;
    }

    public static <T> Split<T> split(List<T> items, double valSetSize, long seed) {
        int n = items.size();
        int k = validationCount(valSetSize, n);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        boolean[] validation = new boolean[n];
        for (int i = 0; i < k; i++) {
            validation[order[i]] = true;
        }
        List<T> train = new ArrayList<>(n - k);
        List<T> val = new ArrayList<>(k);
        for (int i = 0; i < n; i++) {
            (validation[i] ? val : train).add(items.get(i));
        }
        return new Split<>(List.copyOf(train), List.copyOf(val));
    }
}
