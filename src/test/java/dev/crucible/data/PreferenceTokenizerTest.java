package dev.crucible.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.PreferenceExample;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Preference rows tokenised as TRL 1.13 tokenises them: every case of {@code tokenization.json} (made by
 * {@code tools/preference_reference.py} with TRL's own trainers at max_length 40) for DPOTrainer's style (DPO, IPO),
 * KTOTrainer's and the experimental ORPO/CPO trainers', with standard, conversational and implicit-prompt rows,
 * truncated sequences and dropped rows; and the bad rows that must fail or be counted.
 */
class PreferenceTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path temp;
    private static Tokenizer tokenizer;
    private static ChatTemplate template;
    private static JsonNode cases;
    private static int maxLength;

    @BeforeAll
    static void load() throws IOException {
        Path model = PreferenceFixture.modelDir(temp.resolve("model"));
        tokenizer = Tokenizer.load(model);
        template = ChatTemplates.resolve(null, ModelDirectory.open(model));
        JsonNode fixture = JSON.readTree(PreferenceFixture.DIR.resolve("tokenization.json").toFile());
        cases = fixture.get("cases");
        maxLength = fixture.get("max_length").asInt();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static List<PreferenceSample.Paired> paired(String name) {
        return DatasetReader.read(PreferenceFixture.DATA.resolve(name + ".jsonl")).stream()
                .map(PreferenceSample::paired).toList();
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Row r of a collated batch without its padding, and where its completion mask starts. */
    private static PreferenceExample.Sequence collated(JsonNode batch, String prefix, int r) {
        JsonNode ids = batch.get(prefix + "input_ids").get(r);
        JsonNode attention = batch.get(prefix + "attention_mask").get(r);
        JsonNode completion = batch.get(prefix + "completion_mask").get(r);
        int length = 0;
        int prompt = -1;
        for (int t = 0; t < ids.size(); t++) {
            length += attention.get(t).asInt();
            if (prompt < 0 && completion.get(t).asInt() == 1) {
                prompt = t;
            }
        }
        return new PreferenceExample.Sequence(Arrays.copyOf(ints(ids), length), prompt);
    }

    private static void assertSequence(PreferenceExample.Sequence want, PreferenceExample.Sequence got, String what) {
        assertArrayEquals(want.ids(), got.ids(), what + " ids");
        assertEquals(want.promptLength(), got.promptLength(), what + " prompt length");
    }

    @ParameterizedTest
    @ValueSource(strings = {"standard", "conversational", "implicit", "implicit_standard", "long"})
    void dpoTrainerTokenisation(String name) {
        JsonNode c = cases.get("dpo/" + name);
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.TRL, maxLength, 0);
        List<PreferenceExample.Pair> pairs = tok.pairs(paired(name));
        JsonNode prepared = c.get("prepared");
        assertEquals(prepared.size(), pairs.size(), name + ": rows kept");
        assertEquals(c.get("rows").asInt() - prepared.size(), tok.stats().droppedLongPrompt(), name + ": rows dropped");
        for (int i = 0; i < pairs.size(); i++) {
            JsonNode p = prepared.get(i);
            int[] prompt = ints(p.get("prompt_ids"));
            // before the collator's truncation the sequences are prompt + completion; TRL's collator cuts them
            PreferenceExample.Pair pair = pairs.get(i);
            for (String side : new String[] {"chosen", "rejected"}) {
                PreferenceExample.Sequence got = side.equals("chosen") ? pair.chosen() : pair.rejected();
                int[] full = concat(prompt, ints(p.get(side + "_ids")));
                assertArrayEquals(Arrays.copyOf(full, Math.min(full.length, maxLength)), got.ids(), name + " row " + i + " " + side);
                assertEquals(prompt.length, got.promptLength(), name + " row " + i + " " + side + " prompt");
            }
            assertSequence(collated(c.get("collated"), "", i), pair.chosen(), name + " collated chosen " + i);
            assertSequence(collated(c.get("collated"), "", pairs.size() + i), pair.rejected(), name + " collated rejected " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"kto", "kto_long"})
    void ktoTrainerTokenisation(String name) {
        JsonNode c = cases.get("kto/" + name);
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.TRL, maxLength, 0);
        List<PreferenceExample.Unpaired> rows = tok.unpaired(DatasetReader.read(PreferenceFixture.DATA.resolve(name + ".jsonl"))
                .stream().map(PreferenceSample::unpaired).toList());
        JsonNode prepared = c.get("prepared");
        assertEquals(prepared.size(), rows.size(), name + ": rows kept");
        for (int i = 0; i < rows.size(); i++) {
            JsonNode p = prepared.get(i);
            PreferenceExample.Unpaired u = rows.get(i);
            assertArrayEquals(ints(p.get("prompt_ids")), u.prompt(), name + " row " + i + " prompt");
            assertArrayEquals(ints(p.get("completion_ids")), u.completion(), name + " row " + i + " completion");
            assertEquals(p.get("label").asBoolean(), u.desirable());
            assertSequence(collated(c.get("collated"), "", i), u.sequence(u.completion(), maxLength), name + " collated " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"standard", "conversational", "implicit", "long"})
    void experimentalTrainersTokenisation(String name) {
        JsonNode c = cases.get("orpo/" + name);
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.LEGACY, maxLength, 0);
        List<PreferenceExample.Pair> pairs = tok.pairs(paired(name));
        // TRL keeps rows whose completions the max_length rule cut to nothing (their mean log-probability is then
        // 0/0 = NaN); Crucible drops and counts them
        List<JsonNode> prepared = new ArrayList<>();
        int empty = 0;
        for (JsonNode p : c.get("prepared")) {
            boolean hasCompletion = false;
            for (JsonNode label : p.get("chosen_labels")) {
                hasCompletion |= label.asInt() != -100;
            }
            if (hasCompletion) {
                prepared.add(p);
            } else {
                empty++;
            }
        }
        assertEquals(name.equals("long") ? 1 : 0, empty, "the long case has one such row");
        assertEquals(empty, tok.stats().droppedEmptyCompletion());
        assertEquals(prepared.size(), pairs.size(), name + ": rows kept");
        for (int i = 0; i < pairs.size(); i++) {
            JsonNode p = prepared.get(i);
            for (String side : new String[] {"chosen", "rejected"}) {
                PreferenceExample.Sequence got = side.equals("chosen") ? pairs.get(i).chosen() : pairs.get(i).rejected();
                int[] labels = ints(p.get(side + "_labels"));
                int prompt = 0;
                while (labels[prompt] == -100) {
                    prompt++;
                }
                assertSequence(new PreferenceExample.Sequence(ints(p.get(side + "_input_ids")), prompt), got,
                        name + " row " + i + " " + side);
            }
        }
    }

    @Test
    void truncationAndDroppingAreCounted() {
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.TRL, maxLength, 0);
        tok.pairs(paired("long"));
        PreferenceStats s = tok.stats();
        assertEquals(2, s.rows());
        assertEquals(1, s.kept());
        assertEquals(1, s.droppedLongPrompt(), "the prompt of 40+ tokens leaves no room (TRL drops it)");
        assertEquals(1, s.truncatedSequences(), "the long chosen answer is cut to max_length");
        assertTrue(s.truncatedTokens() > 0);
        assertTrue(s.summary(maxLength).contains("1 rows dropped"), s.summary(maxLength));
        PreferenceTokenizer cut = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.TRL, maxLength, 8);
        List<PreferenceExample.Pair> pairs = cut.pairs(paired("long"));
        assertEquals(2, pairs.size(), "with max_prompt_len the long prompt keeps its last 8 tokens instead");
        assertEquals(8, pairs.get(0).chosen().promptLength());
        assertEquals(1, cut.stats().promptsCut());
    }

    private static DatasetRow row(Map<String, Object> fields) {
        return new DatasetRow(Path.of("bad.jsonl"), "line", 3, fields);
    }

    @Test
    void badRowsFailNamingTheRowAndField() {
        CrucibleException missing = assertThrows(CrucibleException.class,
                () -> PreferenceSample.paired(row(Map.of("prompt", "Q", "rejected", "no"))));
        assertTrue(missing.getMessage().contains("bad.jsonl line 3") && missing.getMessage().contains("'chosen'"),
                missing.getMessage());
        CrucibleException empty = assertThrows(CrucibleException.class,
                () -> PreferenceSample.paired(row(Map.of("prompt", "Q", "chosen", "", "rejected", "no"))));
        assertTrue(empty.getMessage().contains("'chosen' is empty"), empty.getMessage());
        CrucibleException emptyMessage = assertThrows(CrucibleException.class, () -> PreferenceSample.paired(row(Map.of(
                "prompt", List.of(Map.of("role", "user", "content", "Q")),
                "chosen", List.of(Map.of("role", "assistant", "content", "")),
                "rejected", List.of(Map.of("role", "assistant", "content", "no"))))));
        assertTrue(emptyMessage.getMessage().contains("empty content"), emptyMessage.getMessage());
        CrucibleException mixed = assertThrows(CrucibleException.class, () -> PreferenceSample.paired(row(Map.of(
                "prompt", "Q", "chosen", List.of(Map.of("role", "assistant", "content", "a")),
                "rejected", List.of(Map.of("role", "assistant", "content", "b"))))));
        assertTrue(mixed.getMessage().contains("same kind"), mixed.getMessage());
        CrucibleException label = assertThrows(CrucibleException.class,
                () -> PreferenceSample.unpaired(row(Map.of("prompt", "Q", "completion", "a", "label", "yes"))));
        assertTrue(label.getMessage().contains("'label'"), label.getMessage());
    }

    @Test
    void implicitPromptsThatDoNotMatchAreRefused() {
        PreferenceTokenizer tok = new PreferenceTokenizer(tokenizer, template, PreferenceTokenizer.Style.TRL, maxLength, 0);
        List<PreferenceSample.Paired> differentQuestions = List.of(PreferenceSample.paired(row(Map.of(
                "chosen", List.of(Map.of("role", "user", "content", "2+2?"), Map.of("role", "assistant", "content", "4")),
                "rejected", List.of(Map.of("role", "user", "content", "3+3?"), Map.of("role", "assistant", "content", "7"))))));
        CrucibleException e = assertThrows(CrucibleException.class, () -> tok.pairs(differentQuestions));
        assertTrue(e.getMessage().contains("no common beginning"), e.getMessage());
        List<PreferenceSample.Paired> differentTurns = List.of(PreferenceSample.paired(row(Map.of(
                "chosen", List.of(Map.of("role", "system", "content", "Be kind."), Map.of("role", "user", "content", "2+2?"),
                        Map.of("role", "assistant", "content", "4")),
                "rejected", List.of(Map.of("role", "system", "content", "Be kind."), Map.of("role", "user", "content", "3+3?"),
                        Map.of("role", "assistant", "content", "7"))))));
        e = assertThrows(CrucibleException.class, () -> tok.pairs(differentTurns));
        assertTrue(e.getMessage().contains("prompts do not match") && e.getMessage().contains("message 1"), e.getMessage());
        List<PreferenceSample.Paired> differentStrings = List.of(PreferenceSample.paired(row(Map.of(
                "chosen", "Yes it is.", "rejected", "No it is not."))));
        e = assertThrows(CrucibleException.class, () -> tok.pairs(differentStrings));
        assertTrue(e.getMessage().contains("add a 'prompt' field"), e.getMessage());
    }

    @Test
    void unpairingFollowsTrlsOrder() {
        List<PreferenceSample.Unpaired> rows = PreferenceSample.unpair(paired("standard"));
        assertEquals(8, rows.size());
        List<Boolean> labels = new ArrayList<>();
        rows.forEach(r -> labels.add(r.desirable()));
        assertEquals(List.of(true, true, true, true, false, false, false, false), labels,
                "each batch's chosen rows, then its rejected ones");
        assertEquals(" 7", rows.get(4).completion());
    }

    @Test
    void fixtureFilesExist() {
        assertTrue(Files.isRegularFile(PreferenceFixture.ADAPTER.resolve("adapter_config.json")));
    }
}
