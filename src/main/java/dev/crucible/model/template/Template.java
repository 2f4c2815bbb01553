package dev.crucible.model.template;

import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A compiled Jinja2 template: parse once, render many times (thread-safe; each render has its own state).
 * Rendering matches Python's Jinja2 in transformers' {@code ImmutableSandboxedEnvironment}: only template
 * values are reachable, modifying methods (list.append, dict.update, ...) raise SecurityError, and a render
 * that exceeds the output, iteration or recursion limits of its {@link TemplateOptions} is stopped.
 */
public final class Template {
    private final List<Stmt> body;
    private final TemplateOptions options;

    private Template(List<Stmt> body, TemplateOptions options) {
        this.body = body;
        this.options = options;
    }

    /** Compiles with transformers' settings. */
    public static Template compile(String source) {
        return compile(source, TemplateOptions.TRANSFORMERS);
    }

    /** @throws TemplateException.Syntax naming line and column of the first error */
    public static Template compile(String source, TemplateOptions options) {
        String src = Lexer.normalize(source, options.keepTrailingNewline());
        return new Template(Parser.parse(src, Lexer.tokenize(src, options)), options);
    }

    public TemplateOptions options() {
        return options;
    }

    /** Renders with the current time for {@code strftime_now}. */
    public String render(Map<String, ?> context) {
        return render(context, ZonedDateTime::now);
    }

    /**
     * Renders with {@code context} as global variables (Java maps, lists, strings, numbers, booleans and
     * null, or Jackson trees, all converted to template values).
     */
    public String render(Map<String, ?> context, Supplier<ZonedDateTime> clock) {
        Interp in = new Interp(options, clock);
        Frame globals = new Frame(null);
        for (Map.Entry<String, Object> e : Globals.ALL.entrySet()) {
            globals.set(e.getKey(), e.getValue());
        }
        Frame root = new Frame(globals);
        for (Map.Entry<String, ?> e : context.entrySet()) {
            root.set(e.getKey(), Values.toTemplateValue(e.getValue()));
        }
        try {
            Stmt.execAll(body, in, new Frame(root));
        } catch (StackOverflowError e) {
            throw new TemplateException.LimitExceeded("template nesting too deep");
        } catch (Interp.Break | Interp.Continue e) {
            throw new TemplateException("TemplateSyntaxError", "break or continue outside a loop");
        }
        return in.output();
    }
}
