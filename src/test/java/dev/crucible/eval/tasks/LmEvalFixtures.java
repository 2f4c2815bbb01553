package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.cli.CliRun;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs {@code crucible eval tasks} as one of lm-eval's reference runs in testdata/lm_eval was run and checks every
 * number against lm-eval's: metrics (accuracies and exact matches equal, perplexities and standard errors within
 * 1e-4 relative), every sample's prompts, per-request log-likelihood (within 1e-4 + 1e-6 |ll|), is-greedy flag,
 * generated and filtered text, per-document metrics and hashes.
 */
final class LmEvalFixtures {
    static final Path ROOT = Path.of("testdata/lm_eval");
    static final ObjectMapper JSON = new ObjectMapper();

    private LmEvalFixtures() {
    }

    /** A model directory of the test models: the llama fixture's weights with one of the tokenizer variants. */
    static Path model(String variant, Path tmp) throws IOException {
        Path dir = tmp.resolve("model-" + variant);
        if (Files.isDirectory(dir)) {
            return dir;
        }
        Files.createDirectories(dir);
        Path weights = Path.of("testdata/hf/models/llama").toAbsolutePath();
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.createSymbolicLink(dir.resolve(f), weights.resolve(f));
        }
        try (Stream<Path> s = Files.list(ROOT.resolve("models").resolve(variant))) {
            for (Path f : s.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    /** Runs the CLI with a reference run's flags; returns the directory holding results_*.json and the samples. */
    static Path runCrucible(Path model, List<String> args, Path tasksDir, Path out, Integer maxLength) throws IOException {
        List<String> cli = new ArrayList<>(List.of("eval", "tasks", model.toString(), "--output-path", out.toString()));
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--include-path") && args.get(i + 1).equals(".")) {
                cli.add(a);
                cli.add(tasksDir.toAbsolutePath().toString());
                i++;
            } else if (a.endsWith(".yaml") && !a.startsWith("/")) {
                cli.add(tasksDir.resolve(a).toAbsolutePath().toString());
            } else if (a.equals("leaderboard/data")) {
                cli.add(ROOT.resolve(a).toAbsolutePath().toString());
            } else {
                cli.add(a);
            }
        }
        if (maxLength != null) {
            cli.add("--max-length");
            cli.add(maxLength.toString());
        }
        CliRun run = CliRun.of(cli.toArray(String[]::new));
        assertEquals(0, run.exitCode(), () -> "crucible " + String.join(" ", cli) + "\n" + run.err());
        try (Stream<Path> s = Files.list(out)) {
            Path dir = s.filter(Files::isDirectory).findFirst().orElseThrow();
            Files.writeString(dir.resolve("table.md"), run.out());
            return dir;
        }
    }

    static JsonNode read(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    static Path only(Path dir, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + prefix + "* in " + dir));
        }
    }

    /** samples_TASK_DATE.jsonl (a date has no underscore, so samples_a_DATE is not samples_a_b_DATE). */
    static Path samplesFile(Path dir, String task) throws IOException {
        String prefix = "samples_" + task + "_";
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)
                            && !p.getFileName().toString().substring(prefix.length()).contains("_"))
                    .findFirst().orElseThrow(() -> new AssertionError("no " + prefix + "DATE.jsonl in " + dir));
        }
    }

    /** Compares results.json: metric values, standard errors, counts and the per-task bookkeeping. */
    static void compareResults(JsonNode ref, JsonNode got, String run) {
        for (String section : List.of("results", "groups")) {
            if (!ref.has(section)) {
                assertTrue(!got.has(section), run + ": unexpected " + section);
                continue;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = ref.get(section).properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> task = it.next();
                JsonNode mine = got.get(section).get(task.getKey());
                assertTrue(mine != null, run + ": no " + section + " entry for " + task.getKey());
                // a Python process_results (truthfulqa_mc2's probability mass) makes "acc" a continuous value
                boolean continuous = ref.path("configs").path(task.getKey()).has("process_results");
                for (Iterator<Map.Entry<String, JsonNode>> m = task.getValue().properties().iterator(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = m.next();
                    String where = run + " " + task.getKey() + " " + e.getKey();
                    compareMetric(e.getKey(), e.getValue(), mine.get(e.getKey()), continuous, where);
                }
            }
        }
        for (String key : List.of("n-shot", "versions", "higher_is_better", "n-samples", "group_subtasks")) {
            assertEquals(ref.get(key), got.get(key), run + ": " + key);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = ref.get("configs").properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode mine = got.get("configs").get(e.getKey());
            compareConfig(e.getValue(), mine, run + " configs." + e.getKey());
        }
    }

    /**
     * A task's config as lm-eval dumps it, key by key, but for what differs by design: the metadata the run adds
     * (model path, source file), the data location, and the Python hooks lm-eval prints as their source code
     * ("def ...", "<function ...>") where Crucible's task files name a built-in or hold the equivalent Jinja.
     */
    private static void compareConfig(JsonNode ref, JsonNode mine, String where) {
        for (Iterator<String> k = ref.fieldNames(); k.hasNext(); ) {
            String key = k.next();
            JsonNode r = ref.get(key);
            if (key.equals("metadata")) {
                assertEquals(r.get("version"), mine.get(key).get("version"), where + " " + key);
            } else if (key.equals("fewshot_config")) {
                compareConfig(r, mine.get(key), where + ".fewshot_config");
            } else if (!key.equals("dataset_kwargs") && !key.equals("dataset_path")
                    && !(r.isTextual() && (r.asText().startsWith("def ") || r.asText().startsWith("<function ")))) {
                assertEquals(r, mine.get(key), where + "." + key);
            }
        }
    }

    private static void compareMetric(String key, JsonNode ref, JsonNode got, boolean continuous, String where) {
        assertTrue(got != null, where + ": missing");
        if (!ref.isNumber() || key.equals("sample_len")) {
            assertEquals(ref, got, where);
            return;
        }
        String metric = key.contains(",") ? key.substring(0, key.indexOf(',')) : key;
        boolean exact = !continuous && !metric.endsWith("_stderr") && !metric.contains("perplexity")
                && !metric.equals("bits_per_byte");
        assertClose(ref.asDouble(), got.asDouble(), exact ? 0 : 1e-4, where);
    }

    static void assertClose(double ref, double got, double rel, String where) {
        if (rel == 0) {
            assertEquals(ref, got, 0.0, where);
        } else if (Math.abs(got - ref) > rel * Math.abs(ref)) {
            fail(where + ": " + got + " vs lm-eval's " + ref + " (relative difference "
                    + Math.abs(got - ref) / Math.abs(ref) + ")");
        }
    }

    /** Compares each task's samples file line by line. Returns the number of log-likelihoods compared. */
    static int compareSamples(Path refDir, Path gotDir, String run) throws IOException {
        int compared = 0;
        try (Stream<Path> s = Files.list(refDir)) {
            for (Path ref : s.filter(p -> p.getFileName().toString().startsWith("samples_")).sorted().toList()) {
                String name = ref.getFileName().toString();
                String task = name.substring("samples_".length(), name.length() - ".jsonl".length());
                Path got = samplesFile(gotDir, task);
                List<String> a = Files.readAllLines(ref);
                List<String> b = Files.readAllLines(got);
                assertEquals(a.size(), b.size(), run + " " + task + ": samples");
                for (int i = 0; i < a.size(); i++) {
                    compared += compareSample(JSON.readTree(a.get(i)), JSON.readTree(b.get(i)), run + " " + task + " sample " + i);
                }
            }
        }
        return compared;
    }

    private static int compareSample(JsonNode ref, JsonNode got, String where) {
        for (String key : List.of("doc_id", "doc", "target", "arguments", "filter", "metrics", "doc_hash", "prompt_hash",
                "target_hash")) {
            assertEquals(ref.get(key), got.get(key), where + ": " + key);
        }
        int n = compareResponses(ref.get("resps"), got.get("resps"), where + " resps");
        compareResponses(ref.get("filtered_resps"), got.get("filtered_resps"), where + " filtered_resps");
        for (Iterator<JsonNode> m = ref.get("metrics").elements(); m.hasNext(); ) {
            String metric = m.next().asText();
            JsonNode r = ref.get(metric);
            JsonNode g = got.get(metric);
            if (r.isArray()) { // (loglikelihood, words or bytes)
                assertLl(r.get(0).asDouble(), g.get(0).asDouble(), where + " " + metric);
                assertEquals(r.get(1), g.get(1), where + " " + metric + " weight");
            } else if (metric.equals("perplexity")) {
                assertLl(r.asDouble(), g.asDouble(), where + " " + metric);
            } else if (metric.equals("acc") && !r.isIntegralNumber() && !r.asText().matches("[01]\\.0")) {
                assertClose(r.asDouble(), g.asDouble(), 1e-4, where + " " + metric); // truthfulqa_mc2's probability mass
            } else {
                assertEquals(r, g, where + " " + metric);
            }
        }
        return n;
    }

    /**
     * Responses are nested lists of strings (lm-eval's sanitize_list): a log-likelihood response is a pair
     * [ll, is_greedy]; a generation is its text, which must be identical.
     */
    private static int compareResponses(JsonNode ref, JsonNode got, String where) {
        if (ref.isArray() && ref.size() == 2 && ref.get(1).isTextual()
                && (ref.get(1).asText().equals("True") || ref.get(1).asText().equals("False"))
                && isNumber(ref.get(0).asText())) {
            assertLl(Double.parseDouble(ref.get(0).asText()), Double.parseDouble(got.get(0).asText()), where);
            assertEquals(ref.get(1), got.get(1), where + " is_greedy");
            return 1;
        }
        if (ref.isArray()) {
            assertEquals(ref.size(), got.size(), where + " length");
            int n = 0;
            for (int i = 0; i < ref.size(); i++) {
                n += compareResponses(ref.get(i), got.get(i), where + "[" + i + "]");
            }
            return n;
        }
        if (ref.isTextual() && isNumber(ref.asText()) && !ref.asText().isBlank() && got.isTextual()
                && ref.asText().contains(".") && ref.asText().length() > 8) {
            assertLl(Double.parseDouble(ref.asText()), Double.parseDouble(got.asText()), where); // rolling sums
            return 1;
        }
        assertEquals(ref, got, where);
        return 0;
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return !s.isBlank() && !s.endsWith("d") && !s.endsWith("f");
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The tolerance for a log-likelihood: 1e-4 + 1e-6 |ll| (lm-eval sums in float32). */
    static void assertLl(double ref, double got, String where) {
        if (Math.abs(got - ref) > 1e-4 + 1e-6 * Math.abs(ref)) {
            fail(where + ": log-likelihood " + got + " vs lm-eval's " + ref);
        }
    }

    /** The printed table, cell by cell: text equal, numbers within 1e-4 relative. */
    static void compareTables(String ref, String got, String run) {
        List<String> a = tableLines(ref);
        List<String> b = tableLines(got);
        assertEquals(a.size(), b.size(), run + ": table rows\n" + got);
        for (int i = 0; i < a.size(); i++) {
            String[] x = a.get(i).split("\\|", -1);
            String[] y = b.get(i).split("\\|", -1);
            assertEquals(x.length, y.length, run + ": table row " + i);
            for (int c = 0; c < x.length; c++) {
                String p = x[c].strip();
                String q = y[c].strip();
                if (isNumber(p) && isNumber(q) && p.contains(".")) {
                    assertClose(Double.parseDouble(p), Double.parseDouble(q), 1e-4, run + ": table row " + i + " " + p);
                } else if (!p.matches("-*:?")) {
                    assertEquals(p, q, run + ": table row " + i);
                }
            }
        }
    }

    private static List<String> tableLines(String text) {
        return text.lines().filter(l -> l.startsWith("|")).toList();
    }
}
