package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.model.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "tokenize", description = "Encode text with a model's tokenizer and print the ids and tokens.")
final class TokenizeCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "Directory with tokenizer.json (a model directory).")
    Path modelDir;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", paramLabel = "TEXT", description = "The text to encode.")
        String text;

        @Option(names = "--file", paramLabel = "FILE", description = "Encode the contents of this UTF-8 file.")
        Path file;
    }

    @Option(names = "--json", description = "Print one JSON object {\"ids\": [...], \"tokens\": [...]}.")
    boolean json;

    @Option(names = "--no-special-tokens",
            description = "Do not add the tokenizer's special tokens (such as a BOS the post-processor adds).")
    boolean noSpecialTokens;

    @Override
    public Integer call() {
        String text = input.text != null ? input.text : readFile(input.file);
        PrintWriter out = spec.commandLine().getOut();
        try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
            Tokenizer.Encoded enc = tokenizer.encodeWithOffsets(text, !noSpecialTokens);
            if (json) {
                ObjectNode node = JSON.createObjectNode();
                var ids = node.putArray("ids");
                for (int id : enc.ids()) {
                    ids.add(id);
                }
                var tokens = node.putArray("tokens");
                enc.tokens().forEach(tokens::add);
                out.println(node);
            } else {
                printTable(out, enc);
            }
        }
        out.flush();
        return 0;
    }

    /** One line per token: position, id, the token string (JSON-quoted so spaces and newlines show) and its text span. */
    private static void printTable(PrintWriter out, Tokenizer.Encoded enc) {
        int width = String.valueOf(Math.max(enc.length() - 1, 0)).length();
        for (int i = 0; i < enc.length(); i++) {
            out.printf("%" + width + "d  %8d  %-24s  [%d, %d)%n", i, enc.ids()[i], quote(enc.tokens().get(i)),
                    enc.starts()[i], enc.ends()[i]);
        }
        out.println(enc.length() + (enc.length() == 1 ? " token" : " tokens"));
    }

    private static String quote(String token) {
        try {
            return JSON.writeValueAsString(token);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String readFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read as UTF-8 text: " + e.getMessage(), e);
        }
    }
}
