package dev.crucible.io;

import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * One-line descriptions of YAML parse failures: SnakeYAML's own messages span several lines and quote the source
 * with a caret; the CLI prints one {@code error:} line, so it gets the problem and where it is.
 */
public final class YamlErrors {
    private YamlErrors() {
    }

    /** "line 2, column 3: expected the node content, but found '-' (while parsing a flow node)". */
    public static String describe(YamlEngineException e) {
        if (e instanceof MarkedYamlEngineException m && m.getProblem() != null) {
            String where = m.getProblemMark().map(p -> "line " + (p.getLine() + 1) + ", column " + (p.getColumn() + 1)
                    + ": ").orElse("");
            String context = m.getContext() == null ? "" : " (" + m.getContext() + ")";
            return where + m.getProblem() + context;
        }
        return String.valueOf(e.getMessage()).lines().map(String::strip).reduce((a, b) -> a + " " + b).orElse("");
    }
}
