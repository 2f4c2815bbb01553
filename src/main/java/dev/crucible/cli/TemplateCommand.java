package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.template.ChatTemplate;
import dev.crucible.template.Template;
import dev.crucible.template.TemplateException;
import dev.crucible.template.TemplateOptions;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "template", mixinStandardHelpOptions = true, description = "Chat templates (Jinja2, as transformers renders them).",
        subcommands = {TemplateCommand.Render.class, TemplateBenchCommand.class})
final class TemplateCommand {

    @Command(name = "render", mixinStandardHelpOptions = true, description = {
            "Render a chat template and print exactly the text (nothing added).",
            "With --batch, read one JSON object per line ({\"template\", \"context\", \"options\"}) and write one "
                    + "JSON line per case: {\"output\": TEXT} or {\"error\": MESSAGE}."})
    static final class Render implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        static final class Source {
            @Option(names = "--model", paramLabel = "MODEL_DIR",
                    description = "model directory: its chat template, bos/eos tokens from tokenizer_config.json")
            Path model;

            @Option(names = "--template", paramLabel = "FILE", description = "a Jinja template file")
            Path template;

            @Option(names = "--batch", paramLabel = "CASES.jsonl", description = "render many cases, one JSON per line")
            Path batch;
        }

        @ArgGroup(exclusive = true, multiplicity = "1")
        Source source;

        @Option(names = "--context", paramLabel = "FILE.json", description = "template variables as a JSON object")
        Path context;

        @Option(names = "--no-trim-blocks", description = "keep the newline after a block tag")
        boolean noTrimBlocks;

        @Option(names = "--no-lstrip-blocks", description = "keep spaces before a block tag")
        boolean noLstripBlocks;

        @Option(names = "--keep-trailing-newline", description = "keep the template's final newline")
        boolean keepTrailingNewline;

        private static final ObjectMapper JSON = new ObjectMapper();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            if (source.batch != null) {
                batch(source.batch, out);
                out.flush();
                return 0;
            }
            if (context == null) {
                throw new CrucibleException("--context FILE.json is required with --model or --template");
            }
            TemplateOptions options = TemplateOptions.TRANSFORMERS.withWhitespace(!noTrimBlocks, !noLstripBlocks,
                    keepTrailingNewline);
            Map<String, Object> vars = new LinkedHashMap<>();
            String text;
            if (source.model != null) {
                ModelDirectory dir = ModelDirectory.open(source.model);
                String src = dir.chatTemplate();
                if (src == null) {
                    throw new CrucibleException(source.model + ": the model has no chat template");
                }
                vars.putAll(ChatTemplate.specialTokens(dir.tokenizerConfig()));
                text = src;
            } else {
                text = readText(source.template);
            }
            vars.putAll(readContext(context));
            try {
                out.print(Template.compile(text, options).render(vars));
            } catch (TemplateException e) {
                throw new CrucibleException((source.model != null ? source.model : source.template) + ": "
                        + e.getMessage(), e);
            }
            out.flush();
            return 0;
        }

        private static String readText(Path file) {
            try {
                return Files.readString(file);
            } catch (IOException e) {
                throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
            }
        }

        private static Map<String, Object> readContext(Path file) {
            JsonNode node;
            try {
                node = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
            }
            if (node == null || !node.isObject()) {
                throw new CrucibleException(file + ": the context must be a JSON object of template variables");
            }
            return fields(node);
        }

        private static Map<String, Object> fields(JsonNode obj) {
            Map<String, Object> m = new LinkedHashMap<>();
            obj.properties().forEach(e -> m.put(e.getKey(), e.getValue()));
            return m;
        }

        private static void batch(Path file, PrintWriter out) {
            try (BufferedReader r = Files.newBufferedReader(file)) {
                String line;
                int lineNo = 0;
                while ((line = r.readLine()) != null) {
                    lineNo++;
                    if (line.isBlank()) {
                        continue;
                    }
                    out.println(JSON.writeValueAsString(renderCase(file, lineNo, line)));
                }
            } catch (IOException e) {
                throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
            }
        }

        private static ObjectNode renderCase(Path file, int lineNo, String line) {
            ObjectNode result = JSON.createObjectNode();
            JsonNode c;
            try {
                c = JSON.readTree(line);
            } catch (IOException e) {
                return result.put("error", file + ":" + lineNo + ": not valid JSON: " + e.getMessage());
            }
            if (c == null || !c.isObject() || !c.path("template").isTextual()) {
                return result.put("error", file + ":" + lineNo + ": expected an object with a \"template\" string");
            }
            JsonNode ctx = c.path("context");
            if (!ctx.isMissingNode() && !ctx.isObject()) {
                return result.put("error", file + ":" + lineNo + ": \"context\" must be an object");
            }
            JsonNode o = c.path("options");
            TemplateOptions options = TemplateOptions.TRANSFORMERS.withWhitespace(
                    o.path("trim_blocks").asBoolean(true), o.path("lstrip_blocks").asBoolean(true),
                    o.path("keep_trailing_newline").asBoolean(false));
            try {
                Map<String, Object> vars = ctx.isObject() ? fields(ctx) : Map.of();
                return result.put("output", Template.compile(c.get("template").textValue(), options).render(vars));
            } catch (TemplateException e) {
                return result.put("error", e.getMessage());
            }
        }
    }
}
