package dev.crucible;

/**
 * A problem with the user's input (a file, a config key, a tensor) rather than a bug in Crucible.
 * The command line prints its message without a stack trace, so the message must name what is wrong
 * and what was expected.
 */
public class CrucibleException extends RuntimeException {
    public CrucibleException(String message) {
        super(message);
    }

    public CrucibleException(String message, Throwable cause) {
        super(message, cause);
    }
}
