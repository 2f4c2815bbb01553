package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.Template;
import dev.crucible.model.template.TemplateOptions;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Renders a task's Jinja fields ({@code doc_to_text}, {@code doc_to_target}, {@code doc_to_choice},
 * {@code description}, {@code gen_prefix}) over a document as lm-eval's {@code utils.apply_template} does: its
 * environment ({@code StrictUndefined}, {@code keep_trailing_newline=True}, the {@code regex_replace} filter) with
 * the document's fields as the variables. Each template is compiled once.
 */
final class DocTemplates {
    private static final Map<String, Template> COMPILED = new ConcurrentHashMap<>();

    private DocTemplates() {
    }

    static String render(String template, Map<String, Object> doc, String where) {
        try {
            Template t = COMPILED.computeIfAbsent(template, s -> Template.compile(s, TemplateOptions.LM_EVAL));
            return t.render(doc);
        } catch (CrucibleException e) {
            throw new CrucibleException(where + ": " + e.getMessage(), e);
        }
    }
}
