package dev.crucible;

/** How a failure caught on another thread (a worker's task, a future) reaches the caller unchanged. */
public final class Failures {
    private Failures() {
    }

    /**
     * {@code t} to rethrow as is: a RuntimeException (a {@link CrucibleException} keeps its message for the user)
     * is returned, an Error is thrown here, anything else (a checked exception) comes back wrapped.
     */
    public static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
