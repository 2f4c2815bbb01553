package dev.crucible.model.template;

/**
 * Lexer and safety settings of a template. The defaults are the ones transformers uses for chat templates
 * ({@code trim_blocks=True, lstrip_blocks=True}, Jinja2's default {@code keep_trailing_newline=False}).
 *
 * @param maxOutputChars   a render (and any string it builds) longer than this is stopped
 * @param maxIterations    total loop iterations and macro calls allowed in one render
 * @param maxCallDepth     nesting of macro calls / recursive loops allowed
 * @param lmEvalHarness    lm-evaluation-harness's environment for task prompts ({@code StrictUndefined}: printing a
 *                         missing variable raises; its {@code regex_replace} filter, Python's {@code re.sub})
 */
public record TemplateOptions(boolean trimBlocks, boolean lstripBlocks, boolean keepTrailingNewline,
                              long maxOutputChars, long maxIterations, int maxCallDepth, boolean lmEvalHarness) {

    public static final TemplateOptions TRANSFORMERS = new TemplateOptions(true, true, false,
            64L << 20, 50_000_000L, 200, false);

    /**
     * lm-evaluation-harness's {@code Environment(undefined=StrictUndefined, keep_trailing_newline=True)} with the
     * {@code regex_replace} filter, which renders {@code doc_to_text} and the other prompt fields of a task.
     */
    public static final TemplateOptions LM_EVAL = new TemplateOptions(false, false, true,
            64L << 20, 50_000_000L, 200, true);

    /** Jinja2's own defaults (no trim/lstrip), as huggingface.js's feature tests use them. */
    public static final TemplateOptions JINJA_DEFAULTS = TRANSFORMERS.withWhitespace(false, false, false);

    public TemplateOptions withWhitespace(boolean trim, boolean lstrip, boolean keepTrailingNewline) {
        return new TemplateOptions(trim, lstrip, keepTrailingNewline, maxOutputChars, maxIterations, maxCallDepth,
                lmEvalHarness);
    }

    public TemplateOptions withLimits(long maxOutputChars, long maxIterations, int maxCallDepth) {
        return new TemplateOptions(trimBlocks, lstripBlocks, keepTrailingNewline, maxOutputChars, maxIterations,
                maxCallDepth, lmEvalHarness);
    }
}
