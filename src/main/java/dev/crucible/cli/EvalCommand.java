package dev.crucible.cli;

import dev.crucible.eval.LanguageModel;
import dev.crucible.ProgressBar;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.eval.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate a model.",
        subcommands = {EvalCommand.PerplexityCommand.class, EvalTasksCommand.class, EvalCompareCommand.class})
final class EvalCommand {

    @Command(name = "perplexity", mixinStandardHelpOptions = true,
            description = "Perplexity on a text file or on the 'text' field of a JSONL file (each record scored "
                    + "separately, long texts in sliding windows).")
    static final class PerplexityCommand implements Callable<Integer> {
        private static final ObjectMapper JSON = new ObjectMapper();

        @Spec
        CommandSpec spec;

        @Mixin
        ModelAndAdapter modelOptions = new ModelAndAdapter();


        @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text, or .jsonl with a 'text' field")
        Path data;

        @Option(names = "--window", defaultValue = "1024", description = "tokens per window (capped at the model's "
                + "max_position_embeddings); default ${DEFAULT-VALUE}")
        int window;

        @Option(names = "--stride", description = "tokens between window starts; default half the window")
        Integer stride;

        @Option(names = "--json", description = "print {\"tokens\", \"nll\", \"perplexity\"}")
        boolean json;

        @Override
        public Integer call() throws IOException {
            List<String> texts = readTexts(data);
            PrintWriter out = spec.commandLine().getOut();
            try (LanguageModel model = modelOptions.load(null)) {
                int w = Math.min(window, model.transformer().spec().config().maxPositionEmbeddings());
                int s = stride == null ? Math.max(1, w / 2) : stride;
                if (w < 2 || s < 1 || s > w) {
                    throw new CrucibleException("need --window >= 2 and 1 <= --stride <= window (" + w + ")");
                }
                List<int[]> sequences = new ArrayList<>();
                for (String t : texts) {
                    sequences.add(model.tokenizer().encode(t, true));
                }
                ProgressBar bar = new ProgressBar(System.err, "perplexity", "tokens", true);
                Perplexity.Result r = Perplexity.evaluate(model.transformer(), sequences, w, s, (done, total) -> bar.update(done, total, 0, 0));
                if (r.tokens() == 0) {
                    throw new CrucibleException(data + ": no text long enough to score (each text needs 2 tokens)");
                }
                if (json) {
                    out.println(JSON.createObjectNode().put("tokens", r.tokens()).put("nll", r.nll())
                            .put("perplexity", r.perplexity()));
                } else {
                    out.printf("tokens: %d%nmean NLL: %.6f%nperplexity: %.4f%n", r.tokens(), r.nll(), r.perplexity());
                }
                out.flush();
            }
            return 0;
        }

        static List<String> readTexts(Path file) throws IOException {
            if (!Files.isRegularFile(file)) {
                throw new CrucibleException(file + ": data file not found");
            }
            String content = Files.readString(file);
            if (!file.getFileName().toString().endsWith(".jsonl")) {
                return List.of(content);
            }
            List<String> texts = new ArrayList<>();
            String[] lines = content.split("\n");
            for (int i = 0; i < lines.length; i++) {
                if (lines[i].isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = JSON.readTree(lines[i]);
                } catch (IOException e) {
                    throw new CrucibleException(file + " line " + (i + 1) + ": not valid JSON: " + e.getMessage());
                }
                if (node == null || !node.path("text").isTextual()) {
                    throw new CrucibleException(file + " line " + (i + 1) + ": expected an object with a string 'text' field");
                }
                texts.add(node.get("text").textValue());
            }
            return texts;
        }
    }
}
