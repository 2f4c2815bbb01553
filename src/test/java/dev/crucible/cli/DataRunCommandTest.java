package dev.crucible.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataRunCommandTest {
    @TempDir
    Path tmp;

    @Test
    void runPrintsTheStepsAndWritesTheFiles() throws Exception {
        Files.writeString(tmp.resolve("a.jsonl"), """
                {"instruction": "Say hi", "output": "hi"}
                {"instruction": "Say hi", "output": "hi"}
                {"instruction": "Say bye", "output": "As an AI language model, I cannot say bye."}
                """);
        Files.writeString(tmp.resolve("r.yml"), """
                inputs: [{path: a.jsonl, type: alpaca}]
                steps:
                  - filter: {drop_refusals: true}
                  - dedup: {method: exact}
                output: out.jsonl
                report: report.html
                """);
        CliRun r = CliRun.of("data", "run", tmp.resolve("r.yml").toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("steps[0] filter                               3            1            2"), r.out());
        assertTrue(r.out().contains("rows: 3 in, 1 kept, 1 written"), r.out());
        assertEquals(1, Files.readAllLines(tmp.resolve("out.jsonl")).size());
        assertEquals(2, Files.readAllLines(tmp.resolve("out.removed.jsonl")).size());
        assertTrue(Files.readString(tmp.resolve("report.html")).contains("Rows through the steps"));
    }

    @Test
    void aRecipeErrorIsOneLineWithItsPlace() throws Exception {
        Files.writeString(tmp.resolve("a.jsonl"), "{\"text\": \"x\"}\n");
        Files.writeString(tmp.resolve("r.yml"), """
                inputs: [{path: a.jsonl, type: text}]
                steps:
                  - dedup: {method: fuzzy}
                output: out.jsonl
                """);
        CliRun r = CliRun.of("data", "run", tmp.resolve("r.yml").toString());
        assertEquals(1, r.exitCode());
        assertEquals("error: " + tmp.resolve("r.yml") + " line 3: steps[0] dedup: method 'fuzzy' (expected exact or"
                + " minhash)", r.err().strip());
    }

    @Test
    void statsMakesAReportWithoutARecipe() throws Exception {
        Files.writeString(tmp.resolve("c.jsonl"), """
                {"messages": [{"role": "user", "content": "Write a poem"}, {"role": "assistant", "content": "Roses"}]}
                {"messages": [{"role": "user", "content": "Write a song"}, {"role": "assistant", "content": "La"}, {"role": "user", "content": "More"}, {"role": "assistant", "content": "La la"}]}
                """);
        CliRun r = CliRun.of("data", "stats", tmp.resolve("c.jsonl").toString(), "--type", "messages", "--report",
                tmp.resolve("s.html").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("2 rows, 11 words (mean 5.5, median 4, p99 7, max 7)"), r.out());
        String html = Files.readString(tmp.resolve("s.html"));
        assertTrue(html.contains("Turns per conversation"));
        assertTrue(html.contains("write"));
    }
}
