package dev.crucible.eval;

import dev.crucible.CrucibleException;
import dev.crucible.gguf.ModelInputs;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.GenerationTokenIds;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import dev.crucible.model.TransformerWeights;
import dev.crucible.peft.AdapterFold;
import dev.crucible.peft.LoraConfig;
import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;
import dev.crucible.tensor.DType;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model with its tokenizer (and chat template when asked): what generate, chat and eval share. With a PEFT adapter
 * (from {@code --adapter}, or a directory holding only an adapter, such as {@code sft}'s output) the adapter is folded
 * into the weights it changes as they are loaded, in float32, so the numbers equal those of the model
 * {@code lora merge --dtype float32} writes while nothing is written; the other weights stay memory-mapped.
 */
public final class LanguageModel implements AutoCloseable {
    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final ModelDirectory dir;
    private final Set<Integer> stopIds;
    private final Generator generator;
    private final PrintWriter warnings;
    private ChatTemplate template;
    private Set<Integer> chatStopIds;
    private boolean warnedLength;

    public LanguageModel(Path modelDir) {
        this(modelDir, null, null);
    }

    /**
     * @param modelDir   a model directory, a GGUF file, or a PEFT adapter directory whose adapter_config.json names the
     *                   base model
     * @param adapterDir a PEFT adapter directory, or null
     * @param warnings   where to warn about generations longer than the model's context (null: nowhere)
     */
    public LanguageModel(Path modelDir, Path adapterDir, PrintWriter warnings) {
        if (adapterDir == null && isAdapterOnly(modelDir)) {
            adapterDir = modelDir;
            modelDir = baseOf(modelDir);
        }
        if (adapterDir != null && ModelInputs.isGguf(modelDir)) {
            throw new CrucibleException("--adapter needs a Hugging Face model directory, not the GGUF file " + modelDir
                    + " (merge the adapter first with 'crucible lora merge', then export)");
        }
        Path files = ModelInputs.huggingFaceFiles(modelDir); // a GGUF file's tokenizer and template as HF files
        this.dir = ModelDirectory.open(files);
        this.warnings = warnings;
        Transformer t = adapterDir == null ? ModelInputs.transformer(modelDir) : loadWithAdapter(dir, adapterDir, warnings);
        try {
            // the fine-tune's own tokenizer files when it saved them (sft does, with any special_tokens it set)
            this.tokenizer = adapterDir != null && Files.isRegularFile(adapterDir.resolve(Tokenizer.TOKENIZER_JSON))
                    ? Tokenizer.load(adapterDir) : Tokenizer.load(dir);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        this.transformer = t;
        tokenizer.checkFitsModel(t.spec().vocab());
        this.stopIds = new HashSet<>(GenerationTokenIds.read(dir).stopIds(tokenizer));
        this.generator = new Generator(t);
    }

    /** A directory with adapter_config.json and no config.json: an adapter to apply to the base it names. */
    public static boolean isAdapterOnly(Path dir) {
        return Files.isRegularFile(dir.resolve(LoraConfig.FILE)) && !Files.isRegularFile(dir.resolve(ModelDirectory.CONFIG));
    }

    /** The base model an adapter names (base_model_name_or_path), which must be a local model directory. */
    private static Path baseOf(Path adapterDir) {
        String base = LoraConfig.read(adapterDir).json().path("base_model_name_or_path").asText("");
        Path path = base.isEmpty() ? null : adapterDir.resolve(base).normalize();
        if (path == null || !Files.isRegularFile(path.resolve(ModelDirectory.CONFIG))) {
            throw new CrucibleException(adapterDir + " holds an adapter whose base model "
                    + (base.isEmpty() ? "is not named" : "'" + base + "' is not a local model directory")
                    + "; give the base model and the adapter: MODEL_DIR --adapter " + adapterDir);
        }
        return path;
    }

    /**
     * The base with the adapter folded into each weight it changes, kept in float32 (PEFT computes the unmerged sum
     * without rounding it; folding into bf16 would move this fixture's logits by up to 9%), so the numbers equal those of
     * {@code lora merge --dtype float32}. Only the changed weights are copied; the rest stay memory-mapped.
     */
    private static Transformer loadWithAdapter(ModelDirectory base, Path adapterDir, PrintWriter warnings) {
        if (!Files.isRegularFile(adapterDir.resolve(LoraConfig.FILE))) {
            throw new CrucibleException("--adapter " + adapterDir + ": not a PEFT adapter directory (no " + LoraConfig.FILE + ")");
        }
        try (AdapterFold adapter = AdapterFold.open(adapterDir)) {
            try (Checkpoint weights = base.openCheckpoint()) {
                adapter.checkAgainst(weights);
            }
            if (warnings != null && adapter.file().leftOutWarning() != null) {
                warnings.println(adapter.file().leftOutWarning());
            }
            TransformerWeights.Override fold = (name, stored) -> adapter.changes(name)
                    ? adapter.merged(name, stored, DType.F32) : stored;
            return Transformer.load(base, fold);
        }
    }

    /** Loads the chat template, or fails with a message saying the model has none. */
    public Transformer transformer() {
        return transformer;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public void requireChatTemplate() {
        if (template == null) {
            template = ChatTemplate.fromModel(dir);
            chatStopIds = new HashSet<>(stopIds);
            Integer endOfTurn = EndOfTurn.tokenId(template, tokenizer);
            if (endOfTurn != null) {
                chatStopIds.add(endOfTurn);
            }
        }
    }

    /** Token ids of a chat rendered through the model's template, ending with the assistant prompt. */
    public int[] chatIds(List<Map<String, String>> messages) {
        requireChatTemplate();
        String text = template.render(ChatRequest.of(messages).withGenerationPrompt(true));
        return tokenizer.encode(text, false); // the template writes the special tokens itself, as transformers assumes
    }

    public int[] textIds(String text) {
        int[] ids = tokenizer.encode(text, true);
        if (ids.length == 0) {
            throw new CrucibleException("the prompt encodes to no tokens");
        }
        return ids;
    }

    /**
     * Generates after {@code prompt}, printing text as it arrives; returns the generated text. Stops at the eos ids of
     * the generation config and tokenizer and, for a chat prompt, at the template's end-of-turn token too.
     */
    public String generate(int[] prompt, int maxNewTokens, Sampler sampler, PrintWriter out, boolean chat) {
        warnIfLongerThanContext(prompt.length, maxNewTokens);
        if (chat) {
            requireChatTemplate();
        }
        TextStream stream = new TextStream(ids -> tokenizer.decode(inVocabulary(ids), true));
        StringBuilder all = new StringBuilder();
        generator.generate(prompt, maxNewTokens, sampler, chat ? chatStopIds : stopIds, token -> {
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

    /**
     * The ids the tokenizer knows: a model whose embedding has more rows than the tokenizer has tokens (padded
     * vocabularies, as Qwen's) may sample one of the extra rows, which decodes to nothing, as in transformers.
     */
    private int[] inVocabulary(int[] ids) {
        return java.util.Arrays.stream(ids).filter(id -> tokenizer.idToToken(id) != null).toArray();
    }

    /** As transformers warns: positions past max_position_embeddings were never trained. Once per model. */
    private void warnIfLongerThanContext(int promptTokens, int maxNewTokens) {
        int limit = transformer.spec().config().maxPositionEmbeddings();
        if (warnings == null || warnedLength || limit <= 0 || (long) promptTokens + maxNewTokens <= limit) {
            return;
        }
        warnedLength = true;
        warnings.printf("warning: the prompt (%d tokens) plus --max-new-tokens %d exceed the model's"
                + " max_position_embeddings %d; positions past it were never trained and the output may degrade%n",
                promptTokens, maxNewTokens, limit);
        warnings.flush();
    }

    @Override
    public void close() {
        tokenizer.close();
        transformer.close();
    }
}
