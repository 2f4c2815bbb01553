package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A task with its documents, ready to build requests and score responses: lm-eval's {@code ConfigurableTask}
 * (doc_to_text/target/choice with its type rules, the few-shot context, request construction, per-document
 * metrics), kept step for step so that prompts, requests and metric values equal lm-eval's.
 */
public final class EvalTask {
    private final TaskSpec spec;
    private final TaskConfig c;
    private final DatasetSource source;
    private final Map<String, List<Path>> splits;
    private final List<Map<String, Object>> evalDocs;
    private final List<String> features;
    private final int multipleInput;
    private final int multipleTarget;
    private final TaskMetrics metrics;
    private final List<ResponseFilters> filters;
    private FewshotSampler sampler;

    EvalTask(TaskSpec spec, DatasetSource source) {
        this.spec = spec;
        this.c = spec.config();
        this.source = source;
        this.splits = source.splits(spec);
        this.metrics = TaskMetrics.of(c);
        this.filters = ResponseFilters.of(c);
        String split = c.string("test_split") != null ? c.string("test_split") : c.string("validation_split");
        this.evalDocs = docs(split, c.string("process_docs"));
        if (evalDocs.isEmpty()) {
            throw new CrucibleException(c.where() + ": split " + split + " has no documents");
        }
        this.features = List.copyOf(evalDocs.getFirst().keySet());
        Map<String, Object> first = evalDocs.getFirst();
        Object text = docToText(first, null);
        Object target = docToTarget(first, null);
        int inputs = 0;
        if (c.get("doc_to_choice") != null) {
            List<Object> choices = docToChoice(first, null);
            if (text instanceof Long) {
                inputs = choices.size();
            }
        }
        this.multipleInput = inputs;
        this.multipleTarget = target instanceof List<?> l ? l.size() : 0;
    }

    public String name() {
        return c.name();
    }

    public TaskConfig config() {
        return c;
    }

    public TaskSpec spec() {
        return spec;
    }

    TaskMetrics metrics() {
        return metrics;
    }

    List<ResponseFilters> filters() {
        return filters;
    }

    public List<Map<String, Object>> evalDocs() {
        return evalDocs;
    }

    private List<Map<String, Object>> docs(String split, String processDocs) {
        List<Path> files = splits.get(split);
        if (files == null) {
            throw new CrucibleException(c.where() + ": the dataset has no split '" + split + "' (it has "
                    + String.join(", ", splits.keySet()) + ")");
        }
        if (files.isEmpty()) {
            throw new CrucibleException(c.where() + ": no data files for split '" + split + "'");
        }
        List<Map<String, Object>> docs = source.read(files, c.where());
        return processDocs == null ? docs : BuiltinHooks.processDocs(processDocs, docs, c.where());
    }

    /** lm-eval's fewshot_docs(): the few-shot split, the inline samples, else training, validation, test. */
    @SuppressWarnings("unchecked")
    private List<Map<String, Object>> fewshotDocs() {
        Map<String, Object> fs = c.fewshotConfig();
        if (fs.get("split") instanceof String split) {
            return docs(split, fs.get("process_docs") instanceof String p ? p : null);
        }
        if (fs.get("samples") instanceof List<?> samples) {
            List<Map<String, Object>> out = new ArrayList<>();
            for (Object s : samples) {
                if (!(s instanceof Map<?, ?>)) {
                    throw new CrucibleException(c.where() + ": fewshot_config.samples must be a list of documents");
                }
                out.add((Map<String, Object>) s);
            }
            return out;
        }
        for (String key : List.of("training_split", "validation_split", "test_split")) {
            if (c.string(key) != null) {
                return docs(c.string(key), c.string("process_docs"));
            }
        }
        return List.of();
    }

    void seedFewshot(Long seed) {
        String name = c.fewshotConfig().get("sampler") instanceof String s ? s : "default";
        sampler = new FewshotSampler(name, seed);
    }

    // ---- doc_to_* (api/task.py ConfigurableTask) ----

    Object docToText(Map<String, Object> doc, Object override) {
        Object spec = override != null ? override : c.get("doc_to_text");
        if (spec instanceof Long l) {
            return l;
        }
        if (spec instanceof String s) {
            if (features.contains(s)) {
                return doc.get(s);
            }
            String text = DocTemplates.render(s, doc, c.where() + " doc_to_text");
            if (PyText.isDigits(text) && c.get("doc_to_choice") != null) {
                return literal(text, "doc_to_text");
            }
            return text;
        }
        throw new CrucibleException(c.where() + ": doc_to_text must be a field name, a Jinja template or an integer");
    }

    Object docToTarget(Map<String, Object> doc, Object override) {
        Object spec = override != null ? override : c.get("doc_to_target");
        if (spec instanceof Long || spec instanceof List<?>) {
            return spec;
        }
        if (spec instanceof String s) {
            if (features.contains(s)) {
                return doc.get(s);
            }
            String text = DocTemplates.render(s, doc, c.where() + " doc_to_target");
            if (PyText.isDigits(text) && c.get("doc_to_choice") != null) {
                return literal(text, "doc_to_target");
            }
            if (text.length() >= 2 && text.charAt(0) == '[' && text.charAt(text.length() - 1) == ']') {
                try {
                    return PythonLiteral.parse(text);
                } catch (IllegalArgumentException e) {
                    return text;
                }
            }
            return text;
        }
        throw new CrucibleException(c.where() + ": doc_to_target must be a field name, a Jinja template, an integer "
                + "or a list");
    }

    @SuppressWarnings("unchecked")
    List<Object> docToChoice(Map<String, Object> doc, Object override) {
        Object spec = override != null ? override : c.get("doc_to_choice");
        Object v;
        if (spec instanceof String s) {
            v = features.contains(s) ? doc.get(s)
                    : literal(DocTemplates.render(s, doc, c.where() + " doc_to_choice"), "doc_to_choice");
        } else if (spec instanceof List<?> l) {
            v = l;
        } else if (spec instanceof Map<?, ?> m) {
            v = new ArrayList<>(m.values());
        } else {
            throw new CrucibleException(c.where() + ": doc_to_choice must be a field name, a Jinja template, a list or "
                    + "a mapping");
        }
        if (!(v instanceof List<?>)) {
            throw new CrucibleException(c.where() + ": doc_to_choice gave " + v + ", not a list of choices");
        }
        return (List<Object>) v;
    }

    private Object literal(String text, String field) {
        try {
            return PythonLiteral.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CrucibleException(c.where() + ": " + field + " rendered " + abbreviate(text) + ", which is not a "
                    + "Python literal (" + e.getMessage() + ")");
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 100 ? s.substring(0, 97) + "..." : s;
    }

    private String resolveField(Map<String, Object> doc, String field) {
        if (field == null || field.isEmpty()) {
            return null;
        }
        if (doc.containsKey(field)) {
            return pyStr(doc.get(field));
        }
        return DocTemplates.render(field, doc, c.where() + " " + field);
    }

    /** lm-eval's doc_to_prefix: the rendered gen_prefix (a field's value when it names one), or null. */
    String docToPrefix(Map<String, Object> doc) {
        String genPrefix = c.string("gen_prefix");
        if (genPrefix == null) {
            return null;
        }
        return features.contains(genPrefix) ? pyStr(doc.get(genPrefix))
                : DocTemplates.render(genPrefix, doc, c.where() + " gen_prefix");
    }

    // ---- prompts ----

    /** One chat/plain-text message of the prompt (lm-eval's api.utils.Message). */
    static final class Message {
        final String role;
        final String content;
        String delimiter;

        Message(String role, String content, String delimiter) {
            this.role = role;
            this.content = content;
            this.delimiter = delimiter;
        }

        String text() {
            return content + delimiter;
        }

        Map<String, Object> dict() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", role);
            m.put("content", content);
            return m;
        }
    }

    /** Renders a chat as a prompt, {@code generationPrompt} = lm-eval's add_generation_prompt. */
    @FunctionalInterface
    interface ChatFormatter {
        String render(List<Map<String, Object>> messages, boolean generationPrompt);
    }

    static String maybeDelimit(String prefix, String suffix, String delimiter) {
        if (prefix == null || prefix.isEmpty()) {
            return suffix == null ? "" : suffix;
        }
        if (suffix == null || suffix.isEmpty()) {
            return prefix;
        }
        return PyText.endsWithSpace(prefix) || PyText.startsWithSpace(suffix) ? prefix + suffix : prefix + delimiter + suffix;
    }

    private static boolean requiresDelimiter(String prefix, String suffix) {
        if (prefix.isEmpty()) {
            return false;
        }
        return !(PyText.endsWithSpace(prefix) || PyText.startsWithSpace(suffix));
    }

    /**
     * lm-eval's fewshot_context: description (as a system message), the shots, the document. A String, or one
     * context per choice for tasks whose doc_to_text is the choice index (Winogrande).
     */
    Object fewshotContext(Map<String, Object> doc, int numFewshot, String systemInstruction, ChatFormatter chat,
                          boolean fewshotAsMultiturn, String genPrefix) {
        List<Message> messages = new ArrayList<>();
        String description = resolveField(doc, c.string("description"));
        String system = maybeDelimit(systemInstruction, description == null ? "" : description,
                c.string("fewshot_delimiter"));
        if (!system.isEmpty()) {
            messages.add(new Message("system", system, ""));
        }
        Map<String, Object> fs = c.fewshotConfig();
        if (numFewshot > 0) {
            boolean sameSplit = Objects.equals(fs.get("split"), c.string("test_split"));
            for (Map<String, Object> shot : sampler.sample(fewshotDocsCached(), numFewshot, sameSplit ? doc : null,
                    c.where())) {
                Object q = docToText(shot, fs.get("doc_to_text"));
                List<Object> choices = fs.get("doc_to_choice") != null ? docToChoice(shot, fs.get("doc_to_choice")) : null;
                Object a = docToTarget(shot, fs.get("doc_to_target"));
                String shotPrefix = resolveField(shot, fs.get("gen_prefix") instanceof String g ? g : null);
                if (multipleInput > 0) {
                    q = choices.get(index(q));
                    choices = null;
                }
                messages.addAll(qaTurn(q, choices, a, true, shotPrefix, (String) fs.get("target_delimiter"),
                        (String) fs.get("fewshot_delimiter")));
            }
        }
        Object q = docToText(doc, null);
        List<Object> choices = c.get("doc_to_choice") != null ? docToChoice(doc, null) : null;
        if (multipleInput > 0) {
            List<String> contexts = new ArrayList<>();
            for (Object choice : choices) {
                List<Message> all = copy(messages);
                all.addAll(qaTurn(choice, null, null, false, genPrefix, "", "\n\n"));
                contexts.add(render(all, chat, fewshotAsMultiturn, genPrefix));
            }
            return contexts;
        }
        messages.addAll(qaTurn(q, choices, null, false, genPrefix, c.string("target_delimiter"), ""));
        return render(messages, chat, fewshotAsMultiturn, genPrefix);
    }

    private List<Map<String, Object>> fewshotCache;

    private List<Map<String, Object>> fewshotDocsCached() {
        if (fewshotCache == null) {
            fewshotCache = fewshotDocs();
        }
        return fewshotCache;
    }

    private static List<Message> copy(List<Message> messages) {
        List<Message> out = new ArrayList<>();
        for (Message m : messages) {
            out.add(new Message(m.role, m.content, m.delimiter));
        }
        return out;
    }

    private int index(Object v) {
        if (v instanceof Long l) {
            return Math.toIntExact(l);
        }
        throw new CrucibleException(c.where() + ": expected an integer choice index, got " + v);
    }

    /** lm-eval's build_qa_turn: the question (with its delimiter) and, when there is one, the answer. */
    private List<Message> qaTurn(Object q, List<Object> choices, Object a, boolean withAnswer, String genPrefix,
                                 String targetDelimiter, String fewshotDelimiter) {
        if (!(q instanceof String question)) {
            throw new CrucibleException(c.where() + ": the prompt (doc_to_text) is not a string: " + q);
        }
        boolean hasAnswer = withAnswer && a != null && !"".equals(a);
        boolean hasPrefix = genPrefix != null && !genPrefix.isEmpty();
        String delim = hasAnswer && !hasPrefix ? targetDelimiter
                : hasPrefix && requiresDelimiter(question, genPrefix) ? targetDelimiter : "";
        List<Message> out = new ArrayList<>();
        out.add(new Message("user", question, delim));
        if (hasAnswer) {
            Object answer = choices != null && !choices.isEmpty() && a instanceof Long l ? choices.get(Math.toIntExact(l))
                    : a instanceof List<?> list ? list.getFirst() : a;
            if (!(answer instanceof String text)) {
                throw new CrucibleException(c.where() + ": the few-shot answer is not a string: " + answer
                        + " (doc_to_target gives an index only with doc_to_choice)");
            }
            out.add(new Message("assistant", maybeDelimit(genPrefix, text, " "), fewshotDelimiter));
        } else if (hasPrefix) {
            out.add(new Message("assistant", genPrefix, ""));
        }
        return out;
    }

    private static String render(List<Message> messages, ChatFormatter chat, boolean multiturn, String genPrefix) {
        if (chat == null) {
            StringBuilder sb = new StringBuilder();
            for (Message m : messages) {
                sb.append(m.text());
            }
            return sb.toString();
        }
        List<Map<String, Object>> dicts = new ArrayList<>();
        if (multiturn) {
            for (Message m : messages) {
                dicts.add(m.dict());
            }
        } else {
            dicts = singleTurn(copy(messages));
        }
        return chat.render(dicts, genPrefix == null || genPrefix.isEmpty());
    }

    /** lm-eval's multiturn_to_singleturn: everything but a system message and a final answer in one user turn. */
    private static List<Map<String, Object>> singleTurn(List<Message> messages) {
        Message system = messages.getFirst().role.equals("system") ? messages.getFirst() : null;
        List<Message> rest = system == null ? messages : messages.subList(1, messages.size());
        List<Map<String, Object>> out = new ArrayList<>();
        if (system != null) {
            out.add(system.dict());
        }
        if (rest.getLast().role.equals("assistant")) {
            List<Message> user = rest.subList(0, rest.size() - 1);
            user.getLast().delimiter = "";
            StringBuilder sb = new StringBuilder();
            user.forEach(m -> sb.append(m.text()));
            out.add(new Message("user", sb.toString(), "").dict());
            out.add(rest.getLast().dict());
        } else {
            rest.getLast().delimiter = "";
            StringBuilder sb = new StringBuilder();
            rest.forEach(m -> sb.append(m.text()));
            out.add(new Message("user", sb.toString(), "").dict());
        }
        return out;
    }

    /** The document's requests (lm-eval's construct_requests). */
    List<Instance> requests(Map<String, Object> doc, int docId, Object ctx, boolean chatTemplate) {
        String type = c.outputType();
        int repeats = Math.toIntExact((Long) c.get("repeats"));
        List<Instance> out = new ArrayList<>();
        switch (type) {
            case "loglikelihood" -> out.add(new Instance(type, List.of((String) ctx, targetString(docToTarget(doc, null))),
                    0, docId, repeats));
            case "loglikelihood_rolling" -> out.add(new Instance(type,
                    List.of(targetString(docToTarget(doc, null))), 0, docId, repeats));
            case "multiple_choice" -> {
                String delimiter = c.string("target_delimiter");
                if (chatTemplate) {
                    String gp = c.string("gen_prefix");
                    delimiter = gp != null && !gp.isEmpty() && !PyText.endsWithSpace(gp) ? delimiter : "";
                }
                List<List<Object>> args = new ArrayList<>();
                List<Object> choices = docToChoice(doc, null);
                if (multipleInput > 0) {
                    String cont = delimiter + pyStr(docToTarget(doc, null));
                    for (Object context : (List<?>) ctx) {
                        args.add(List.of((String) context, cont));
                    }
                } else {
                    for (Object choice : choices) {
                        args.add(List.of((String) ctx, delimiter + pyStr(choice)));
                    }
                }
                if (metrics.has("acc_mutual_info")) {
                    for (Object choice : choices) {
                        args.add(List.of("", delimiter + pyStr(choice)));
                    }
                }
                for (int i = 0; i < args.size(); i++) {
                    out.add(new Instance("loglikelihood", args.get(i), i, docId, repeats));
                }
            }
            case "generate_until" -> out.add(new Instance(type,
                    List.of((String) ctx, TaskConfig.normalize(c.map("generation_kwargs"))), 0, docId, repeats));
            default -> throw new IllegalStateException(type);
        }
        return out;
    }

    private String targetString(Object target) {
        if (!(target instanceof String s)) {
            throw new CrucibleException(c.where() + ": doc_to_target must give text for output_type "
                    + c.outputType() + ", got " + target);
        }
        return s;
    }

    private static String pyStr(Object o) {
        return dev.crucible.model.template.PythonValues.str(o);
    }

    int multipleInput() {
        return multipleInput;
    }

    int multipleTarget() {
        return multipleTarget;
    }

    /** lm-eval's process_results for one document's filtered responses (one per request, in idx order). */
    Map<String, Object> processResults(Map<String, Object> doc, List<Object> results) {
        return metrics.score(this, doc, results);
    }
}
