package dev.crucible.cli;

import dev.crucible.CrucibleException;

import java.util.Collection;
import java.util.List;

/** Range checks of command-line values, run before any work, with a message that names the option. */
final class OptionChecks {
    private OptionChecks() {
    }

    static void atLeast(long min, long value, String option) {
        if (value < min) {
            throw new CrucibleException(option + ": must be at least " + min + ", got " + value);
        }
    }

    static void positive(double value, String option) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new CrucibleException(option + ": must be a positive number, got " + value);
        }
    }

    static void oneOf(String value, String option, String... allowed) {
        oneOf(List.of(value), option, allowed);
    }

    static void oneOf(Collection<String> values, String option, String... allowed) {
        for (String v : values) {
            if (!List.of(allowed).contains(v)) {
                throw new CrucibleException(option + ": expected one of " + String.join(", ", allowed) + ", got '" + v
                        + "'");
            }
        }
    }
}
