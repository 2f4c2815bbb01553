package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crucible quickstart --fast} end to end: every stage runs, and the report's numbers move the right way (losses
 * fall, the aligned model prefers the chosen answers and keeps its skill, each merge scores at least as well as the
 * weaker of its sources on each skill: strictly for TIES, SLERP and the MoE, within the evaluation's noise for the
 * frankenmerge).
 */
class QuickstartTest {
    @TempDir
    static Path tmp;
    static Path out;
    static CliRun run;
    static JsonNode summary;

    @BeforeAll
    static void runQuickstart() throws IOException {
        out = tmp.resolve("qs");
        run = CliRun.of("quickstart", out.toString(), "--fast");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    }

    @Test
    void printsEachStageAndWritesTheReport() throws IOException {
        for (String stage : List.of("[1/9", "data:", "recipe:", "pre-training:", "SFT:", "DPO:", "merge:", "evaluation:",
                "GGUF:", "report:")) {
            assertTrue(run.out().contains(stage), stage + " in\n" + run.out());
        }
        String html = Files.readString(out.resolve("report.html"));
        for (String name : List.of("pretrain", "sft-chat", "sft-add", "sft-larger", "dpo-add", "ties", "slerp", "frankenmerge", "moe")) {
            assertTrue(html.contains(">" + name + "<"), name);
        }
        assertTrue(html.contains("<svg"), "loss curves");
        byte[] gguf = Files.readAllBytes(out.resolve(summary.path("gguf").path("file").asText()));
        assertEquals("GGUF", new String(gguf, 0, 4, StandardCharsets.US_ASCII));
    }

    @Test
    void theRecipeDropsTheDuplicatesAndTheLeakedEvaluationQuestions() {
        // tools/make_quickstart_data.py plants 12 duplicates and 12 leaks in add, 10 and 10 in larger, 6 and 6 in
        // the preference rows
        int[][] planted = {{12, 12}, {10, 10}, {6, 6}};
        String[] sets = {"add", "larger", "preference"};
        for (int i = 0; i < sets.length; i++) {
            JsonNode d = summary.path("data").path(sets[i]);
            assertEquals(planted[i][0], d.path("removed").path("dedup:exact").asInt(), sets[i]);
            assertEquals(planted[i][1], d.path("removed").path("decontaminate").asInt(), sets[i]);
        }
        assertEquals(500, summary.path("data").path("add").path("kept").asInt());
    }

    @Test
    void everyLossFalls() {
        summary.path("runs").fields().forEachRemaining(e -> {
            JsonNode log = e.getValue();
            double first = mean(log, 0, 3, "loss");
            double last = mean(log, log.size() - 3, log.size(), "loss");
            assertTrue(last < first, e.getKey() + ": loss " + first + " -> " + last);
        });
        // from random weights the first loss is that of a uniform guess over the 512 ids, ln 512 = 6.24
        assertTrue(summary.path("runs").path("pretrain").get(0).path("loss").asDouble() > 5,
                "pre-training starts from random weights");
    }

    @Test
    void theAlignedModelPrefersTheChosenAnswersAndKeepsItsSkill() {
        JsonNode log = summary.path("runs").path("dpo-add");
        double accuracy = mean(log, log.size() - 3, log.size(), "rewards/accuracies");
        double margin = mean(log, log.size() - 3, log.size(), "rewards/margins");
        assertTrue(accuracy > 0.5, "reward accuracy " + accuracy);
        assertTrue(margin > 0, "reward margin " + margin);
        // held-out sums: measured 0.84 against sft-add's 0.89 (fast run), 0.82 against 0.88 (full run); DPO with the
        // first settings (beta 0.1, 2e-4, 60 steps) fell to 0.66-0.76, far outside two standard errors (about 0.065)
        assertTrue(score("dpo-add", "add") >= score("sft-add", "add") - 2 * stderr("sft-add", "add"),
                "dpo-add " + summary.path("scores").path("dpo-add") + " vs sft-add " + summary.path("scores").path("sft-add"));
    }

    @Test
    void theSpecialistsLearnTheirSkillsFromTheSharedStart() {
        JsonNode s = summary.path("scores");
        // chance is about 0.29 for add, 0.5 for larger; sft-chat, their shared start, has neither skill
        assertTrue(score("sft-add", "add") > Math.max(0.6, score("sft-chat", "add") + 0.3), s.toString());
        assertTrue(score("sft-larger", "larger") > Math.max(0.8, score("sft-chat", "larger") + 0.3), s.toString());
    }

    /**
     * The check: each merge scores at least as well as the weaker of its sources on each skill, and well above
     * the shared start (sft-chat), which has neither skill. On addition the weaker source is sft-larger (near chance)
     * and every merge is far above it. On comparison the weaker source is sft-add, which learns it too (the larger
     * operand is the one nearer the sum), so a merge must keep sft-add's comparison and add sft-larger's. Measured over 8
     * training runs (seeds 42 and 1-4 full-size, 42, 1 and 2 fast), comparison minus sft-add's: TIES +0.01 to +0.12,
     * SLERP +0.02 to +0.11, the MoE +0.01 to +0.22, all 8 at or above; these are held to the strict check. The
     * frankenmerge was at or above in 7 of 8 and 0.033 below (3 of 90 questions, about one standard error) in the
     * other: it must come within two standard errors of the weaker source. This run (fast, seed 42), add/larger:
     * ties 0.82/0.99, slerp 0.66/1.00, frankenmerge 0.86/0.99, moe 0.51/0.99 against sft-add 0.88/0.94, sft-larger
     * 0.23/1.00, sft-chat 0.21/0.59. The run is bit-identical for 1, 2 or 4 threads but not across vector widths: on
     * 256- and 128-bit vectors (-XX:UseAVX=2, 1) comparison minus sft-add's was ties +0.06, +0.04, slerp +0.07, +0.06,
     * moe +0.03, +0.04, frankenmerge 0, +0.03.
     */
    @Test
    void everyMergeHasBothSkills() {
        for (String merge : List.of("ties", "slerp", "frankenmerge", "moe")) {
            for (String skill : Quickstart.SKILLS) {
                String weaker = score("sft-add", skill) <= score("sft-larger", skill) ? "sft-add" : "sft-larger";
                double floor = merge.equals("frankenmerge")
                        ? score(weaker, skill) - 2 * stderr(weaker, skill) : score(weaker, skill);
                String numbers = merge + " " + summary.path("scores").path(merge) + " vs " + weaker + " "
                        + summary.path("scores").path(weaker) + " and sft-chat " + summary.path("scores").path("sft-chat");
                assertTrue(score(merge, skill) >= floor, skill + ": " + numbers);
                assertTrue(score(merge, skill) > score("sft-chat", skill) + 0.2, skill + ": " + numbers);
            }
        }
    }

    private static double score(String model, String skill) {
        return summary.path("scores").path(model).path(skill).asDouble();
    }

    private static double stderr(String model, String skill) {
        double e = summary.path("stderr").path(model).path(skill).asDouble(Double.NaN);
        assertTrue(e >= 0 && e < 0.1, model + " " + skill + " standard error " + e);
        return e;
    }

    @Test
    void aSecondRunNeedsOverwrite() {
        CliRun again = CliRun.of("quickstart", out.toString(), "--fast");
        assertEquals(1, again.exitCode());
        assertTrue(again.err().contains("exists and is not empty") && again.err().contains("--overwrite"), again.err());
    }

    private static double mean(JsonNode log, int from, int to, String key) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            sum += log.get(i).path(key).asDouble();
        }
        return sum / (to - from);
    }
}
