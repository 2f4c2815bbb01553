package dev.crucible.cli;

import picocli.CommandLine.Option;

/** {@code --overwrite}: the one switch that lets a command write into an existing, non-empty output. */
final class OverwriteOption {
    @Option(names = "--overwrite", order = 90, description = "write into an existing, non-empty output: files of the "
            + "same name and earlier weight files are replaced, other files are kept (without it such an output is "
            + "refused)")
    boolean overwrite;
}
