package dev.crucible.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "inspect", description = "Describe a Hugging Face model directory.")
final class InspectCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UnsupportedOperationException("inspect: not yet implemented");
    }
}
