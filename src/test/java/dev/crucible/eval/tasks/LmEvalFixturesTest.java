package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every reference run of testdata/lm_eval (lm-eval 0.4.13's HF backend, tools/lm_eval_fixtures.py) redone with
 * {@code crucible eval tasks}: the results, the samples and the printed table must equal lm-eval's.
 */
class LmEvalFixturesTest {
    @TempDir
    static Path tmp;

    @TestFactory
    List<DynamicTest> everyReferenceRunGivesLmEvalsNumbers() throws IOException {
        JsonNode runs = LmEvalFixtures.read(LmEvalFixtures.ROOT.resolve("runs.json"));
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode run : runs) {
            String name = run.get("name").asText();
            tests.add(DynamicTest.dynamicTest(name, () -> check(name, run, LmEvalFixtures.ROOT.resolve("runs").resolve(name))));
        }
        JsonNode leaderboard = LmEvalFixtures.read(LmEvalFixtures.ROOT.resolve("leaderboard/run.json"));
        tests.add(DynamicTest.dynamicTest("leaderboard", () -> check("leaderboard", leaderboard,
                LmEvalFixtures.ROOT.resolve("leaderboard/runs/leaderboard"))));
        return tests;
    }

    private static void check(String name, JsonNode run, Path refDir) throws IOException {
        List<String> args = new ArrayList<>();
        run.get("args").forEach(a -> args.add(a.asText()));
        Path model = LmEvalFixtures.model(run.get("model").asText(), tmp);
        Path out = tmp.resolve("out-" + name);
        Integer maxLength = run.has("max_length") ? run.get("max_length").asInt() : null;
        Path got = LmEvalFixtures.runCrucible(model, args, LmEvalFixtures.ROOT.resolve("tasks"), out, maxLength);
        LmEvalFixtures.compareResults(LmEvalFixtures.read(refDir.resolve("results.json")),
                LmEvalFixtures.read(LmEvalFixtures.only(got, "results_")), name);
        int lls = LmEvalFixtures.compareSamples(refDir, got, name);
        assertTrue(lls > 0 || name.contains("gen"), name + ": no log-likelihoods compared");
        LmEvalFixtures.compareTables(Files.readString(refDir.resolve("table.md")), Files.readString(got.resolve("table.md")), name);
    }
}
