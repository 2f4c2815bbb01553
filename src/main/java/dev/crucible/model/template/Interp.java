package dev.crucible.model.template;

import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** The state of one render: output buffer, safety counters and clock. */
final class Interp {
    /** Variable name (not a valid identifier) that carries the captured body into a filter block. */
    static final String FILTER_BLOCK_VALUE = " filter block";

    final TemplateOptions options;
    final Supplier<ZonedDateTime> clock;
    private StringBuilder out = new StringBuilder(256);
    private long iterations;
    private int depth;

    Interp(TemplateOptions options, Supplier<ZonedDateTime> clock) {
        this.options = options;
        this.clock = clock;
    }

    static final class Break extends RuntimeException {
        static final Break INSTANCE = new Break();

        private Break() {
            super(null, null, false, false);
        }
    }

    static final class Continue extends RuntimeException {
        static final Continue INSTANCE = new Continue();

        private Continue() {
            super(null, null, false, false);
        }
    }

    void write(String s) {
        out.append(s);
        if (out.length() > options.maxOutputChars()) {
            throw new TemplateException.LimitExceeded("template output exceeds the limit of "
                    + options.maxOutputChars() + " characters");
        }
    }

    void checkSize(long chars) {
        if (chars > options.maxOutputChars()) {
            throw new TemplateException.LimitExceeded("template built a string of " + chars
                    + " characters, over the limit of " + options.maxOutputChars());
        }
    }

    void tick() {
        if (++iterations > options.maxIterations()) {
            throw new TemplateException.LimitExceeded("template exceeded " + options.maxIterations()
                    + " loop iterations and macro calls (runaway loop?)");
        }
    }

    void enter() {
        if (++depth > options.maxCallDepth()) {
            depth = 0;
            throw new TemplateException.LimitExceeded("template exceeded the maximum call depth of "
                    + options.maxCallDepth() + " (runaway recursion?)");
        }
    }

    void exit() {
        if (depth > 0) {
            depth--;
        }
    }

    String output() {
        return out.toString();
    }

    String capture(List<Stmt> body, Frame f) {
        return capture(() -> Stmt.execAll(body, this, f));
    }

    String capture(Runnable r) {
        StringBuilder saved = out;
        out = new StringBuilder();
        try {
            r.run();
            return out.toString();
        } finally {
            out = saved;
        }
    }

    Object call(Object callee, List<Object> args, Map<String, Object> kwargs) {
        if (callee instanceof PyCallable c) {
            return c.call(this, args, kwargs);
        }
        if (callee instanceof Undefined u) {
            throw u.fail();
        }
        throw Py.typeError("'" + Py.typeName(callee) + "' object is not callable");
    }
}
