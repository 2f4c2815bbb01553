package dev.crucible.merge;

import dev.crucible.cli.CliRun;

import java.nio.file.Path;

/** Runs the real {@code crucible merge} command line in-process, capturing its output. */
final class MergeTestSupport {
    static final Path FIXTURES = Path.of("testdata/mergekit").toAbsolutePath();

    private MergeTestSupport() {
    }

    static CliRun crucible(String... args) {
        return CliRun.of(args);
    }
}
