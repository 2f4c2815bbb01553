package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.template.ChatTemplates;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything of the output directory but the weights: config.json, generation_config.json, tokenizer files and
 * chat template, mergekit_config.yml and the README.md model card.
 */
final class MergeOutput {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MergeOutput() {
    }

    static void write(MergePlan plan, Path dir, MergeOptions options, String name) {
        try {
            writeJson(dir.resolve(ModelDirectory.CONFIG), plan.outputConfig());
            Path gen = plan.donor().directory().path().resolve(ModelDirectory.GENERATION_CONFIG);
            if (Files.isRegularFile(gen)) {
                Files.copy(gen, dir.resolve(ModelDirectory.GENERATION_CONFIG), StandardCopyOption.REPLACE_EXISTING);
            }
            writeTokenizer(plan, dir, options);
            if (options.writeModelCard()) {
                Files.writeString(dir.resolve("mergekit_config.yml"), plan.config().sourceText);
                Files.writeString(dir.resolve("README.md"), ModelCard.render(plan.config(), name));
            }
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write output files: " + e.getMessage(), e);
        }
    }

    private static void writeTokenizer(MergePlan plan, Path dir, MergeOptions options) throws IOException {
        TokenizerMerge.Result vocab = plan.vocabulary();
        boolean wrote = false;
        if (vocab != null) {
            InputModel donor = plan.models().stream().filter(m -> m.ref().equals(vocab.donor())).findFirst().orElseThrow();
            List<String> slowFiles = List.of("tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json");
            for (Path f : donor.directory().tokenizerFiles()) {
                String n = f.getFileName().toString();
                if (vocab.tokenizerJson() != null && (n.equals("tokenizer.json") || slowFiles.contains(n))) {
                    continue; // rewritten below; slow-tokenizer files would contradict the new vocabulary
                }
                Files.copy(f, dir.resolve(n), StandardCopyOption.REPLACE_EXISTING);
            }
            if (vocab.tokenizerJson() != null) {
                writeJson(dir.resolve("tokenizer.json"), vocab.tokenizerJson());
                updateAddedTokensDecoder(dir.resolve(ModelDirectory.TOKENIZER_CONFIG), vocab.tokenizerJson());
            }
            wrote = true;
        } else if (options.copyTokenizer() && plan.donor().directory().hasTokenizer()) {
            plan.donor().directory().copyTokenizerTo(dir);
            wrote = true;
        }
        String template = chatTemplate(plan);
        if (template != null) {
            Files.writeString(dir.resolve(ModelDirectory.CHAT_TEMPLATE_JINJA), template);
            Files.deleteIfExists(dir.resolve("chat_template.json"));
            Path tc = dir.resolve(ModelDirectory.TOKENIZER_CONFIG);
            if (Files.isRegularFile(tc)) {
                ObjectNode cfg = (ObjectNode) JSON.readTree(tc.toFile());
                if (cfg.remove("chat_template") != null) {
                    writeJson(tc, cfg);
                }
            }
        } else if (!wrote && plan.config().chatTemplate != null) {
            System.err.println("warning: chat_template 'auto' found no template in the input models");
        }
    }

    /** The config's chat template: a built-in, raw Jinja, or for "auto" the most common template of the inputs. */
    static String chatTemplate(MergePlan plan) {
        String value = plan.config().chatTemplate;
        if (value == null) {
            return null;
        }
        String resolved = ChatTemplates.mergekitSource(value);
        if (resolved != null) {
            return resolved;
        }
        Map<String, Integer> counts = new HashMap<>();
        String best = null;
        for (InputModel m : plan.models()) {
            String t = m.directory().chatTemplate();
            if (t != null) {
                int c = counts.merge(t, 1, Integer::sum);
                if (best == null || c > counts.get(best)) {
                    best = t;
                }
            }
        }
        return best;
    }

    /** transformers-4 tokenizer_config.json files list added tokens too; keep that list in step with the new vocab. */
    private static void updateAddedTokensDecoder(Path tokenizerConfig, ObjectNode tokenizerJson) throws IOException {
        if (!Files.isRegularFile(tokenizerConfig)) {
            return;
        }
        ObjectNode cfg = (ObjectNode) JSON.readTree(tokenizerConfig.toFile());
        if (!cfg.has("added_tokens_decoder")) {
            return;
        }
        ObjectNode dec = cfg.putObject("added_tokens_decoder");
        for (JsonNode t : tokenizerJson.path("added_tokens")) {
            ObjectNode e = dec.putObject(t.path("id").asText());
            for (String k : List.of("content", "lstrip", "normalized", "rstrip", "single_word", "special")) {
                if (t.has(k)) {
                    e.set(k, t.get(k));
                }
            }
        }
        writeJson(tokenizerConfig, cfg);
    }

    static void writeJson(Path file, JsonNode node) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n");
    }
}
