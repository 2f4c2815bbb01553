package dev.crucible.model.template;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A model's chat template plus its special tokens: renders a conversation as transformers'
 * {@code apply_chat_template} does (special tokens and request variables as template globals) and finds
 * the character spans of the assistant turns. Compiled once; thread-safe.
 */
public final class ChatTemplate {
    /** Special-token names transformers passes to chat templates. */
    private static final List<String> SPECIAL_TOKENS = List.of("bos_token", "eos_token", "unk_token", "sep_token",
            "pad_token", "cls_token", "mask_token");

    private final Template template;
    private final boolean hasGenerationTags;
    private final Map<String, Object> specialTokens;
    private final Supplier<ZonedDateTime> clock;

    private ChatTemplate(Template template, boolean hasGenerationTags, Map<String, Object> specialTokens,
                         Supplier<ZonedDateTime> clock) {
        this.template = template;
        this.hasGenerationTags = hasGenerationTags;
        this.specialTokens = specialTokens;
        this.clock = clock;
    }

    public static ChatTemplate of(String source) {
        return of(source, TemplateOptions.TRANSFORMERS);
    }

    public static ChatTemplate of(String source, TemplateOptions options) {
        return new ChatTemplate(Template.compile(source, options), source.contains("generation"), Map.of(),
                ZonedDateTime::now);
    }

    /** The model's default chat template with bos/eos/... tokens from its {@code tokenizer_config.json}. */
    public static ChatTemplate fromModel(ModelDirectory dir) {
        String source = dir.chatTemplate();
        if (source == null) {
            throw new CrucibleException(dir.path() + ": the model has no chat template (neither "
                    + ModelDirectory.CHAT_TEMPLATE_JINJA + " nor chat_template in " + ModelDirectory.TOKENIZER_CONFIG + ")");
        }
        return of(source).withSpecialTokens(specialTokens(dir.tokenizerConfig()));
    }

    /** bos_token, eos_token, ... of a tokenizer_config.json (strings or AddedToken objects). */
    public static Map<String, Object> specialTokens(JsonNode tokenizerConfig) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (tokenizerConfig == null) {
            return out;
        }
        for (String name : SPECIAL_TOKENS) {
            JsonNode t = tokenizerConfig.get(name);
            if (t != null && t.isTextual()) {
                out.put(name, t.textValue());
            } else if (t != null && t.isObject() && t.path("content").isTextual()) {
                out.put(name, t.get("content").textValue());
            }
        }
        JsonNode extra = tokenizerConfig.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            List<Object> l = new ArrayList<>();
            for (JsonNode t : extra) {
                l.add(t.isTextual() ? t.textValue() : t.path("content").asText());
            }
            out.put("additional_special_tokens", l);
        }
        return out;
    }

    public ChatTemplate withSpecialTokens(Map<String, ?> tokens) {
        return new ChatTemplate(template, hasGenerationTags, Map.copyOf(tokens), clock);
    }

    /** A fixed clock for {@code strftime_now} (reproducible renders). */
    public ChatTemplate withClock(Supplier<ZonedDateTime> clock) {
        return new ChatTemplate(template, hasGenerationTags, specialTokens, clock);
    }

    public Template template() {
        return template;
    }

    /** The render's template variables, as transformers builds them. */
    Map<String, Object> variables(ChatRequest req) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.putAll(req.extra());
        ctx.put("messages", req.messages());
        if (req.tools() != null) {
            ctx.put("tools", req.tools());
        }
        if (req.documents() != null) {
            ctx.put("documents", req.documents());
        }
        ctx.put("add_generation_prompt", req.addGenerationPrompt());
        return ctx;
    }

    /** Renders the conversation only. */
    public String render(ChatRequest req) {
        return template.render(variables(req), clock).text();
    }

    /** Renders the conversation and locates every assistant turn. */
    public ChatPrompt apply(ChatRequest req) {
        Template.Rendered full = template.render(variables(req), clock);
        String text = full.text();
        List<ChatPrompt.Span> spans = new ArrayList<>();
        if (hasGenerationTags && !full.generationSpans().isEmpty()) {
            for (int[] s : full.generationSpans()) {
                spans.add(new ChatPrompt.Span(s[0], s[1], -1, ChatPrompt.Method.GENERATION_TAG));
            }
            return new ChatPrompt(text, List.copyOf(spans));
        }
        List<? extends Map<String, ?>> msgs = req.messages();
        int searchFrom = 0;
        for (int i = 0; i < msgs.size(); i++) {
            if (!"assistant".equals(msgs.get(i).get("role"))) {
                continue;
            }
            ChatPrompt.Span span = prefixSpan(req, text, i);
            if (span == null || span.start() < searchFrom) {
                span = contentSpan(text, msgs.get(i), i, searchFrom);
            }
            if (span != null) {
                spans.add(span);
                searchFrom = span.end();
            }
        }
        return new ChatPrompt(text, List.copyOf(spans));
    }

    private ChatPrompt.Span prefixSpan(ChatRequest req, String full, int i) {
        List<? extends Map<String, ?>> msgs = req.messages();
        String before;
        String through;
        try {
            before = render(req.withMessages(msgs.subList(0, i)).withGenerationPrompt(true));
            through = render(req.withMessages(msgs.subList(0, i + 1)).withGenerationPrompt(false));
        } catch (TemplateException e) {
            return null; // e.g. the template refuses a conversation that does not end with a user turn
        }
        if (through.length() > before.length() && through.startsWith(before) && full.startsWith(through)) {
            return new ChatPrompt.Span(before.length(), through.length(), i, ChatPrompt.Method.PREFIX);
        }
        return null;
    }

    private static ChatPrompt.Span contentSpan(String full, Map<String, ?> msg, int i, int from) {
        if (!(msg.get("content") instanceof String content)) {
            return null;
        }
        String needle = PyStr.strip(content, null);
        if (needle.isEmpty()) {
            return null;
        }
        int at = full.indexOf(needle, from);
        return at < 0 ? null : new ChatPrompt.Span(at, at + needle.length(), i, ChatPrompt.Method.CONTENT_SEARCH);
    }
}
