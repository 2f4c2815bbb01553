package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.cli.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command's user-facing behaviour: one clear line for bad input, lm-eval's file layout, compare. */
class EvalTasksCommandTest {
    @TempDir
    Path tmp;

    private CliRun run(Path model, String... args) {
        String[] all = new String[args.length + 3];
        all[0] = "eval";
        all[1] = "tasks";
        all[2] = model.toString();
        System.arraycopy(args, 0, all, 3, args.length);
        return CliRun.of(all);
    }

    private Path task(String name, String yaml) throws IOException {
        Files.createDirectories(tmp.resolve("tasks/data"));
        Files.copy(LmEvalFixtures.ROOT.resolve("tasks/data/qa_test.jsonl"), tmp.resolve("tasks/data/qa_test.jsonl"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path f = tmp.resolve("tasks").resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private static void assertOneLineError(CliRun r, String... parts) {
        assertEquals(1, r.exitCode(), r.err());
        String err = r.err().strip();
        assertTrue(err.startsWith("error: ") && !err.contains("\n") && !err.contains("Exception"), err);
        for (String p : parts) {
            assertTrue(err.contains(p), "'" + p + "' not in: " + err);
        }
    }

    private static final String BASE = """
            task: NAME
            dataset_path: json
            dataset_kwargs:
              data_files:
                test: data/qa_test.jsonl
            test_split: test
            output_type: multiple_choice
            doc_to_text: "{{question}}"
            doc_to_choice: choices
            doc_to_target: label
            """;

    @Test
    void unknownKeyIsOneLineNamingTaskFileAndKey() throws IOException {
        Path model = LmEvalFixtures.model("bytelevel_bos", tmp);
        Path f = task("bad_key", BASE.replace("NAME", "bad_key") + "num_fewshots: 3\n");
        assertOneLineError(run(model, "--tasks", f.toString()), "task bad_key", f.getFileName().toString(),
                "unknown key 'num_fewshots'");
    }

    @Test
    void missingDataFileIsOneLineNamingTheFile() throws IOException {
        Path model = LmEvalFixtures.model("bytelevel_bos", tmp);
        Path f = task("no_data", BASE.replace("NAME", "no_data").replace("data/qa_test.jsonl", "data/missing.jsonl"));
        assertOneLineError(run(model, "--tasks", f.toString()), "task no_data", "data/missing.jsonl", "not found");
    }

    @Test
    void pythonHookIsOneLineNamingTheFunctionAndTheBuiltIn() throws IOException {
        Path model = LmEvalFixtures.model("bytelevel_bos", tmp);
        Path f = task("hooked", BASE.replace("NAME", "hooked").replace("dataset_path: json", "dataset_path: json\n"
                + "process_docs: !function utils.process_docs").replace("task: hooked", "task: hooked"));
        assertOneLineError(run(model, "--tasks", f.toString()), "task hooked", "!function utils.process_docs",
                "Python hook", "No built-in");
        Path mc2 = task("mc2", BASE.replace("NAME", "mc2") + "process_results: !function utils.process_results_mc2\n");
        assertOneLineError(run(model, "--tasks", mc2.toString()), "process_results: truthfulqa_mc2");
        Path hs = task("hs", BASE.replace("NAME", "hs").replace("dataset_path: json", "dataset_path: Rowan/hellaswag")
                + "process_docs: !function utils.process_docs\n");
        assertOneLineError(run(model, "--tasks", hs.toString()), "process_docs: hellaswag");
    }

    @Test
    void unknownTaskNameAndMissingDatasetAreOneLine() throws IOException {
        Path model = LmEvalFixtures.model("bytelevel_bos", tmp);
        assertOneLineError(run(model, "--tasks", "no_such_task"), "tasks not found: no_such_task");
        assertOneLineError(run(model, "--tasks", "arc_challenge", "--data-dir", tmp.toString()),
                "allenai/ai2_arc is not on this machine", "huggingface-cli download allenai/ai2_arc");
    }

    @Test
    void everyBuiltInTaskLoads() {
        TaskRegistry r = new TaskRegistry(List.of(), java.util.Map.of());
        TaskRegistry.Loaded l = r.load(List.of("open_llm_leaderboard"));
        assertEquals(62, l.tasks().size()); // ARC, HellaSwag, 57 MMLU subjects, TruthfulQA MC2, Winogrande, GSM8K
        assertEquals(25, l.tasks().get("arc_challenge").config().numFewshot());
        assertEquals(5, l.tasks().get("mmlu_anatomy").config().numFewshot());
        assertTrue(l.groups().containsKey("mmlu_stem"));
    }

    @Test
    void filesGoWhereLmEvalWritesThemAndCompareReadsThem() throws IOException {
        Path model = LmEvalFixtures.model("bytelevel_bos", tmp);
        Path tasks = LmEvalFixtures.ROOT.resolve("tasks").toAbsolutePath();
        Path out = tmp.resolve("out");
        CliRun a = run(model, "--tasks", "qa_csv,pairs_ll", "--include-path", tasks.toString(), "--output-path",
                out.toString(), "--log-samples", "--limit", "3");
        assertEquals(0, a.exitCode(), a.err());
        assertTrue(a.out().contains("|qa_csv"), a.out());
        Path dir;
        try (Stream<Path> s = Files.list(out)) {
            dir = s.findFirst().orElseThrow();
        }
        assertEquals(ResultsFiles.sanitizeModelName(model.toString()), dir.getFileName().toString());
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(3, names.size(), names.toString());
            assertTrue(names.get(0).matches("results_\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d(\\.\\d{6})?\\.json"), names.get(0));
            assertTrue(names.get(1).startsWith("samples_pairs_ll_") && names.get(2).startsWith("samples_qa_csv_"));
        }
        JsonNode results = LmEvalFixtures.read(LmEvalFixtures.only(dir, "results_"));
        for (String key : List.of("results", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
                "n-samples", "config", "task_hashes")) {
            assertTrue(results.has(key), key);
        }
        assertEquals(3, results.get("n-samples").get("qa_csv").get("effective").asInt());
        // a second "model": the same run as a results file, compared side by side
        Path html = tmp.resolve("cmp.html");
        CliRun c = CliRun.of("eval", "compare", out.toString(), LmEvalFixtures.only(dir, "results_").toString(),
                "--html", html.toString());
        assertEquals(0, c.exitCode(), c.err()); // the same model twice: two columns named by their files
        assertTrue(c.out().contains(dir.getFileName().toString()), c.out());
        Files.delete(html);
        CliRun c2 = CliRun.of("eval", "compare", dir.toString(), LmEvalFixtures.ROOT.resolve("runs/main/results.json")
                .toString(), "--html", html.toString());
        assertEquals(0, c2.exitCode(), c2.err());
        assertTrue(c2.out().contains("qa_csv") && c2.out().contains("acc_norm"), c2.out());
        assertTrue(Files.readString(html).contains("<table>"));
        CliRun again = CliRun.of("eval", "compare", dir.toString(), LmEvalFixtures.ROOT.resolve("runs/main/results.json")
                .toString(), "--html", html.toString());
        assertOneLineError(again, "exists", "--force");
    }
}
