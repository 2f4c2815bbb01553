package dev.crucible.data.recipe;

import dev.crucible.cli.CliRun;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark engine against the embedded one: the same recipe (every step kind, a sample, a fractional weight, a
 * conversion, unreadable rows skipped) run through {@code crucible data run} with {@code engine: spark} on
 * {@code local[2]} writes the same output and removed files, byte for byte. The first run builds {@code spark/}
 * (downloading Spark into the local Maven repository when it is not there yet).
 */
class SparkEngineTest {
    @TempDir
    Path dir;

    static final String RECIPE = """
            inputs:
              - {path: train.jsonl, type: alpaca, weight: 1.5}
              - {path: chats.jsonl, type: sharegpt, sample: 0.5, weight: 0.5}
            steps:
              - filter: {min_tokens: 10, max_tokens: 4000, drop_refusals: true}
              - dedup: {method: exact}
              - decontaminate: {against: bench.jsonl}
              - dedup: {method: minhash, threshold: 0.7, seed: 3}
              - convert: {to: messages}
            output: %s.jsonl
            report: %s.html
            tokenizer: %s
            on_error: skip
            seed: 5
            %s
            """;

    @Test
    void sparkKeepsAndRemovesTheSameRowsAsTheEmbeddedEngine() throws Exception {
        Assumptions.assumeTrue(onPath("mvn"), "engine: spark builds spark/ with Maven, which is not on PATH");
        PlantedCorpus.write(dir, 3, 150);
        StringBuilder chats = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            String q = i % 4 == 0 ? "what is the capital of france" : "question number " + i + " about topic " + (i % 7);
            chats.append("{\"id\": \"c").append(i).append("\", \"conversations\": [{\"from\": \"human\", \"value\": \"")
                    .append(q).append(" please answer in detail\"}, {\"from\": \"gpt\", \"value\": \"the answer is ")
                    .append(i % 4 == 0 ? "paris" : "number " + i).append(" and that is all there is to it\"}]}\n");
        }
        Files.writeString(dir.resolve("chats.jsonl"), chats.toString());
        String tokenizer = Path.of("testdata/hf/tokenizers/bytelevel_bpe").toAbsolutePath().toString();
        Files.writeString(dir.resolve("embedded.yml"), RECIPE.formatted("embedded", "embedded", tokenizer, ""));
        Files.writeString(dir.resolve("spark.yml"), RECIPE.formatted("spark", "spark", tokenizer,
                "engine: spark\nspark_master: \"local[2]\""));

        CliRun embedded = CliRun.of("data", "run", dir.resolve("embedded.yml").toString(), "--quiet");
        assertEquals(0, embedded.exitCode(), embedded.err());
        long start = System.nanoTime();
        CliRun spark = CliRun.of("data", "run", dir.resolve("spark.yml").toString());
        System.out.printf("spark run (build when needed, JVM, Spark start, job): %.1f s%n", (System.nanoTime() - start) / 1e9);
        assertEquals(0, spark.exitCode(), spark.out() + spark.err());

        System.out.println(spark.out());
        assertArrayEquals(Files.readAllBytes(dir.resolve("embedded.jsonl")), Files.readAllBytes(dir.resolve("spark.jsonl")),
                "kept rows, in order, byte for byte");
        assertArrayEquals(Files.readAllBytes(dir.resolve("embedded.removed.jsonl")),
                Files.readAllBytes(dir.resolve("spark.removed.jsonl")), "removed rows with the same removed_by and reason");
        List<String> removed = Files.readAllLines(dir.resolve("spark.removed.jsonl"));
        for (String by : List.of("read", "sample", "filter", "dedup:exact", "decontaminate", "dedup:minhash", "weight")) {
            assertTrue(removed.stream().anyMatch(l -> l.contains("\"removed_by\":\"" + by + "\"")), "no row removed by " + by);
        }
        // the printed step table is the same (timings aside)
        assertEquals(table(embedded.out()), table(spark.out()));
        assertTrue(Files.readString(dir.resolve("spark.html")).contains("spark (local[2])"));
    }

    /** The step table without its timing column. */
    private static List<String> table(String summary) {
        return summary.substring(0, summary.indexOf("\nrows: ")).lines().map(l -> l.substring(0, Math.min(l.length(), 73)))
                .toList();
    }

    private static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }
}
