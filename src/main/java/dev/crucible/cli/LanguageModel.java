package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.eval.Generator;
import dev.crucible.eval.Sampler;
import dev.crucible.eval.TextStream;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.GenerationTokenIds;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A model with its tokenizer (and chat template when asked): what generate, chat and eval share. */
final class LanguageModel implements AutoCloseable {
    final Transformer transformer;
    final Tokenizer tokenizer;
    private final ModelDirectory dir;
    private final Set<Integer> stopIds;
    private final Generator generator;
    private ChatTemplate template;

    LanguageModel(Path modelDir) {
        this.dir = ModelDirectory.open(modelDir);
        Transformer t = Transformer.load(modelDir);
        try {
            this.tokenizer = Tokenizer.load(modelDir);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        this.transformer = t;
        tokenizer.checkFitsModel(t.spec().vocab());
        this.stopIds = new HashSet<>(GenerationTokenIds.read(dir).stopIds(tokenizer));
        this.generator = new Generator(t);
    }

    /** Loads the chat template, or fails with a message saying the model has none. */
    void requireChatTemplate() {
        if (template == null) {
            template = ChatTemplate.fromModel(dir);
        }
    }

    /** Token ids of a chat rendered through the model's template, ending with the assistant prompt. */
    int[] chatIds(List<Map<String, String>> messages) {
        requireChatTemplate();
        String text = template.render(ChatRequest.of(messages).withGenerationPrompt(true));
        return tokenizer.encode(text, false); // the template writes the special tokens itself, as transformers assumes
    }

    int[] textIds(String text) {
        int[] ids = tokenizer.encode(text, true);
        if (ids.length == 0) {
            throw new CrucibleException("the prompt encodes to no tokens");
        }
        return ids;
    }

    /** Generates after {@code prompt}, printing text as it arrives; returns the generated text. */
    String generate(int[] prompt, int maxNewTokens, Sampler sampler, PrintWriter out) {
        TextStream stream = new TextStream(ids -> tokenizer.decode(ids, true));
        StringBuilder all = new StringBuilder();
        generator.generate(prompt, maxNewTokens, sampler, stopIds, token -> {
            String piece = stream.push(token);
            all.append(piece);
            out.print(piece);
            out.flush();
            return true;
        });
        String rest = stream.flush();
        all.append(rest);
        out.print(rest);
        out.flush();
        return all.toString();
    }

    @Override
    public void close() {
        tokenizer.close();
        transformer.close();
    }
}
