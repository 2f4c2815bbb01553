package dev.crucible.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Model directories and dataset files for the data tests. */
final class DataFixtures {
    static final Path BYTELEVEL = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
    static final ObjectMapper JSON = new ObjectMapper();

    private DataFixtures() {
    }

    /** The byte-level BPE tokenizer (ChatML template, eos {@code </s>} = 2, pad 0) as a model directory. */
    static Path bytelevelModel(Path tmp) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(BYTELEVEL.resolve(f), dir.resolve(f));
        }
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"vocab_size\": 504}");
        return dir;
    }

    /** Token ids transformers gave for {@code text} (testdata reference). */
    static int[] referenceIds(String text) throws IOException {
        JsonNode ids = JSON.readTree(BYTELEVEL.resolve("reference.json").toFile()).get("encode").get(text);
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i).intValue();
        }
        return out;
    }

    static Path writeJsonl(Path file, List<?> rows) throws IOException {
        List<String> lines = new ArrayList<>();
        for (Object r : rows) {
            lines.add(JSON.writeValueAsString(r));
        }
        Files.write(file, lines);
        return file;
    }

    static Map<String, String> msg(String role, String content) {
        return Map.of("role", role, "content", content);
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static int[] ignored(int n) {
        int[] out = new int[n];
        java.util.Arrays.fill(out, SftExample.IGNORE_INDEX);
        return out;
    }

    /** The decoded text of each run of labelled tokens (labels equal the ids where set). */
    static List<String> trainedRuns(dev.crucible.model.Tokenizer tokenizer, SftExample e) {
        List<String> runs = new ArrayList<>();
        int i = 0;
        while (i < e.length()) {
            if (e.labels()[i] == SftExample.IGNORE_INDEX) {
                i++;
                continue;
            }
            int j = i;
            while (j < e.length() && e.labels()[j] != SftExample.IGNORE_INDEX) {
                if (e.inputIds()[j] != e.labels()[j]) {
                    throw new AssertionError("label " + j + " is not its token id");
                }
                j++;
            }
            runs.add(tokenizer.decode(java.util.Arrays.copyOfRange(e.inputIds(), i, j)));
            i = j;
        }
        return runs;
    }
}
