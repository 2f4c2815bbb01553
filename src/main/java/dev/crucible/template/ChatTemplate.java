package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    private final Map<String, Object> specialTokens;
    private final Map<String, Object> variables;
    private final Supplier<ZonedDateTime> clock;

    private ChatTemplate(Template template, Map<String, Object> specialTokens, Map<String, Object> variables,
                         Supplier<ZonedDateTime> clock) {
        this.template = template;
        this.specialTokens = specialTokens;
        this.variables = variables;
        this.clock = clock;
    }

    public static ChatTemplate of(String source) {
        return of(source, TemplateOptions.TRANSFORMERS);
    }

    public static ChatTemplate of(String source, TemplateOptions options) {
        return new ChatTemplate(Template.compile(source, options), Map.of(), Map.of(), ZonedDateTime::now);
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
            String text = ModelDirectory.tokenText(tokenizerConfig.get(name));
            if (text != null) {
                out.put(name, text);
            }
        }
        JsonNode extra = tokenizerConfig.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            List<Object> l = new ArrayList<>();
            for (JsonNode t : extra) {
                String text = ModelDirectory.tokenText(t);
                l.add(text == null ? "" : text);
            }
            out.put("additional_special_tokens", l);
        }
        return out;
    }

    public ChatTemplate withSpecialTokens(Map<String, ?> tokens) {
        return new ChatTemplate(template, Map.copyOf(tokens), variables, clock);
    }

    /**
     * Variables every render gets (Axolotl's {@code chat_template_kwargs}, e.g. {@code enable_thinking}); a
     * request's own extra variables override them.
     */
    public ChatTemplate withVariables(Map<String, ?> variables) {
        return new ChatTemplate(template, specialTokens, Map.copyOf(variables), clock);
    }

    /** A fixed clock for {@code strftime_now} (reproducible renders). */
    public ChatTemplate withClock(Supplier<ZonedDateTime> clock) {
        return new ChatTemplate(template, specialTokens, variables, clock);
    }

    public Template template() {
        return template;
    }

    /** The render's template variables, as transformers builds them. */
    Map<String, Object> variables(ChatRequest req) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.putAll(variables);
        ctx.putAll(req.extra());
        ctx.put("messages", req.messages());
        // transformers passes both even when absent (None), and templates test `tools is none`
        ctx.put("tools", req.tools());
        ctx.put("documents", req.documents());
        ctx.put("add_generation_prompt", req.addGenerationPrompt());
        return ctx;
    }

    /** Renders the conversation only. */
    public String render(ChatRequest req) {
        return template.render(variables(req), clock);
    }

    /** Renders the conversation and locates every message in it (see {@link #apply(ChatRequest, Set)}). */
    public ChatPrompt apply(ChatRequest req) {
        return apply(req, null);
    }

    /**
     * Renders the conversation and locates the messages whose role is in {@code roles} (all when null) by diffing
     * renders with the message replaced by a placeholder ({@link TurnFinder}); every render uses the request's
     * settings (for training: no generation prompt). Messages the template drops, or whose text cannot be told
     * apart from other messages, have no turn.
     */
    public ChatPrompt apply(ChatRequest req, Set<String> roles) {
        String text = render(req);
        return new ChatPrompt(text, TurnFinder.locate(messages -> renderOrNull(req.withMessages(messages)),
                req.messages(), text, roles));
    }

    /** A render, or null when the template refuses the conversation (e.g. it must end with a user). */
    private String renderOrNull(ChatRequest req) {
        try {
            return render(req);
        } catch (TemplateException e) {
            return null;
        }
    }
}
