package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.TestTokenizers;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.crucible.data.DataFixtures.concat;
import static dev.crucible.data.DataFixtures.ignored;
import static dev.crucible.data.DataFixtures.msg;
import static dev.crucible.data.DataFixtures.referenceIds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each format against token ids built from transformers' reference encodings of the byte-level BPE fixture. */
class ExampleBuilderTest {
    static final int EOS = 2; // </s>
    static final int IM_START = 3;
    static final int IM_END = 4;

    @TempDir
    static Path tmp;
    static ModelDirectory model;
    static Tokenizer tokenizer;
    static ChatTemplate ownTemplate;

    @BeforeAll
    static void load() throws Exception {
        model = ModelDirectory.open(DataFixtures.bytelevelModel(tmp));
        tokenizer = Tokenizer.load(model.path());
        ownTemplate = ChatTemplates.resolve(null, model);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static DatasetRow row(Map<String, ?> fields) {
        return new DatasetRow(Path.of("mem.jsonl"), "line", 1, new java.util.LinkedHashMap<>(fields));
    }

    static ExampleBuilder builder(int sequenceLen, boolean trainOnInputs) {
        return new ExampleBuilder(tokenizer, ownTemplate, sequenceLen, trainOnInputs);
    }

    int[] enc(String s) {
        return tokenizer.encode(s, false);
    }

    @Test
    void alpacaIsAxolotlsPromptWithLossOnOutputAndEos() throws Exception {
        SftExample e = builder(4096, false).build(DatasetType.ALPACA.toSample(
                row(Map.of("instruction", "Greet", "input", "", "output", "Hello world!")), null));
        String prompt = "Below is an instruction that describes a task. Write a response that appropriately completes"
                + " the request.\n\n### Instruction:\nGreet\n\n### Response:\n";
        int[] output = referenceIds("Hello world!");
        assertArrayEquals(concat(enc(prompt), output, new int[] {EOS}), e.inputIds());
        assertArrayEquals(concat(ignored(enc(prompt).length), output, new int[] {EOS}), e.labels());
        assertEquals("Hello world!</s>", tokenizer.decode(trained(e)));

        SftExample withInput = builder(4096, false).build(DatasetType.ALPACA.toSample(
                row(Map.of("instruction", "Add", "input", "1 2", "output", "3")), null));
        String text = tokenizer.decode(withInput.inputIds());
        assertTrue(text.startsWith("Below is an instruction that describes a task, paired with an input that provides"
                + " further context."), text);
        assertTrue(text.endsWith("### Instruction:\nAdd\n\n### Input:\n1 2\n\n### Response:\n3</s>"), text);
        assertEquals("3</s>", tokenizer.decode(trained(withInput)));
    }

    @Test
    void messagesThroughChatmlTrainOnlyAssistantTurnsWithEndOfTurn() throws Exception {
        List<Map<String, String>> conversation = List.of(msg("user", "hi"), msg("assistant", "Hello world!"),
                msg("user", "hi"), msg("assistant", "Hello world!"));
        SftExample e = builder(4096, false).build(DatasetType.MESSAGES.toSample(row(Map.of("messages", conversation)), null));
        int[] userTurn = concat(referenceIds("<|im_start|>user\nhi<|im_end|>"), enc("\n"));
        int[] header = concat(new int[] {IM_START}, enc("assistant\n"));
        int[] reply = concat(referenceIds("Hello world!"), new int[] {IM_END}, enc("\n"));
        assertArrayEquals(concat(userTurn, header, reply, userTurn, header, reply), e.inputIds());
        int[] none = ignored(userTurn.length + header.length);
        assertArrayEquals(concat(none, reply, none, reply), e.labels());
        // no EOS appended: <|im_end|> ends the turn
        assertEquals(List.of("Hello world!<|im_end|>\n", "Hello world!<|im_end|>\n"), trainedRuns(e));
    }

    @Test
    void sharegptMapsRolesAndEqualsTheSameMessages() {
        List<Map<String, String>> turns = List.of(Map.of("from", "system", "value", "Be brief."),
                Map.of("from", "human", "value", "Capital of France?"), Map.of("from", "gpt", "value", "Paris."));
        SftExample share = builder(4096, false).build(DatasetType.SHAREGPT.toSample(row(Map.of("conversations", turns)), null));
        SftExample messages = builder(4096, false).build(DatasetType.MESSAGES.toSample(row(Map.of("messages", List.of(
                msg("system", "Be brief."), msg("user", "Capital of France?"), msg("assistant", "Paris.")))), null));
        assertArrayEquals(messages.inputIds(), share.inputIds());
        assertArrayEquals(messages.labels(), share.labels());
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n"
                + "<|im_start|>assistant\nParis.<|im_end|>\n", tokenizer.decode(share.inputIds()));
        assertEquals(List.of("Paris.<|im_end|>\n"), trainedRuns(share));
    }

    @Test
    void completionAppendsEosAndTextDoesNotBothTrainEverything() throws Exception {
        String text = "def f(x): return x * 2";
        SftExample completion = builder(4096, false).build(DatasetType.COMPLETION.toSample(row(Map.of("text", text)), null));
        assertArrayEquals(concat(referenceIds(text), new int[] {EOS}), completion.inputIds());
        assertArrayEquals(completion.inputIds(), completion.labels());

        SftExample raw = builder(4096, false).build(DatasetType.TEXT.toSample(row(Map.of("body", text)), "body"));
        assertArrayEquals(referenceIds(text), raw.inputIds());
        assertArrayEquals(raw.inputIds(), raw.labels());
    }

    @Test
    void trainOnInputsPutsLossOnEveryToken() {
        SftExample e = builder(4096, true).build(DatasetType.MESSAGES.toSample(row(Map.of("messages",
                List.of(msg("user", "hi"), msg("assistant", "yo")))), null));
        assertArrayEquals(e.inputIds(), e.labels());
    }

    @Test
    void postProcessorBosAndEosAreKeptOnceAndEosIsTrained(@TempDir Path dir) throws Exception {
        TestTokenizers.writeWithBosEosTemplate(dir); // tinytok: "<s> $A </s>", bos 1, eos 2
        try (Tokenizer bosEos = Tokenizer.load(dir)) {
            ExampleBuilder b = new ExampleBuilder(bosEos, null, 4096, false);
            SftExample e = b.build(DatasetType.ALPACA.toSample(row(Map.of("instruction", "a", "output", "bc")), null));
            int[] ids = e.inputIds();
            assertEquals(1, ids[0]);
            assertEquals(2, ids[ids.length - 1]);
            assertEquals(1, Arrays.stream(ids).filter(i -> i == 2).count(), Arrays.toString(ids));
            assertEquals(-100, e.labels()[0]);
            assertEquals(2, e.labels()[ids.length - 1]);
            assertEquals("bc</s>", bosEos.decode(trained(e)));
        }
    }

    @Test
    void longInputsAreNotCutByTheTokenizerAndTruncationIsCounted() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 700; i++) {
            sb.append("word").append(i).append(' ');
        }
        String text = sb.toString();
        int full = tokenizer.encode(text).length;
        assertTrue(full > 2000, "test text has " + full + " tokens");

        ExampleBuilder roomy = builder(full + 1, false);
        SftExample whole = roomy.build(DatasetType.TEXT.toSample(row(Map.of("text", text)), null));
        assertEquals(full, whole.length());
        assertEquals(0, roomy.stats().truncated());

        ExampleBuilder tight = builder(1000, false);
        SftExample cut = tight.build(DatasetType.COMPLETION.toSample(row(Map.of("text", text)), null));
        tight.build(DatasetType.COMPLETION.toSample(row(Map.of("text", "short")), null));
        assertEquals(1000, cut.length());
        assertArrayEquals(Arrays.copyOf(tokenizer.encode(text), 1000), cut.inputIds());
        DatasetStats stats = tight.stats();
        assertEquals(2, stats.examples());
        assertEquals(1, stats.truncated());
        assertEquals(full + 1 - 1000, stats.truncatedTokens()); // + the appended EOS
        assertEquals(1000, stats.maxLength());
        assertTrue(stats.summary(1000).contains(String.format(java.util.Locale.ROOT, "1 examples, %,d tokens cut off",
                full + 1 - 1000)), stats.summary(1000));
    }

    @Test
    void examplesWithoutTrainableTokensAreDroppedAndCounted() {
        ExampleBuilder b = builder(4096, false);
        assertNull(b.build(DatasetType.MESSAGES.toSample(row(Map.of("messages", List.of(msg("user", "only a question")))), null)));
        // the assistant turn lies entirely beyond sequence_len
        ExampleBuilder tight = builder(6, false);
        assertNull(tight.build(DatasetType.MESSAGES.toSample(row(Map.of("messages",
                List.of(msg("user", "a long question here"), msg("assistant", "answer")))), null)));
        assertEquals(1, b.stats().droppedWithoutLoss());
        assertEquals(0, b.stats().examples());
        assertEquals(1, tight.stats().droppedWithoutLoss());
        assertEquals(1, tight.stats().truncated());
    }

    @Test
    void builtInTemplatesRenderTheirFormatsAndMaskTheReply() {
        ChatTemplate llama3 = ChatTemplates.resolve("llama3", model);
        SftExample e = new ExampleBuilder(tokenizer, llama3, 4096, false).build(DatasetType.MESSAGES.toSample(
                row(Map.of("messages", List.of(msg("user", "hi "), msg("assistant", " yo")))), null));
        assertEquals("<s><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant"
                + "<|end_header_id|>\n\nyo<|eot_id|>", tokenizer.decode(e.inputIds()));
        assertEquals(List.of("yo<|eot_id|>"), trainedRuns(e));

        ChatTemplate alpaca = ChatTemplates.resolve("alpaca", model);
        SftExample a = new ExampleBuilder(tokenizer, alpaca, 4096, false).build(DatasetType.MESSAGES.toSample(
                row(Map.of("messages", List.of(msg("user", "Greet"), msg("assistant", "Hello")))), null));
        assertEquals("### Instruction: Greet\n\n### Response: Hello</s>", tokenizer.decode(a.inputIds()));
        assertEquals(List.of("Hello</s>"), trainedRuns(a));

        ChatTemplate raw = ChatTemplates.resolve("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", model);
        SftExample r = new ExampleBuilder(tokenizer, raw, 4096, false).build(DatasetType.MESSAGES.toSample(
                row(Map.of("messages", List.of(msg("user", "q"), msg("assistant", "ans")))), null));
        assertEquals("[user]q[assistant]ans", tokenizer.decode(r.inputIds()));
        assertTrue(tokenizer.decode(trained(r)).endsWith("ans"));

        CrucibleException bad = assertThrows(CrucibleException.class, () -> ChatTemplates.resolve("vicuna", model));
        assertTrue(bad.getMessage().contains("unknown template 'vicuna'") && bad.getMessage().contains("chatml"),
                bad.getMessage());
    }

    @Test
    void badRowsNameTheFileLineAndField(@TempDir Path dir) throws Exception {
        Path f = DataFixtures.writeJsonl(dir.resolve("alpaca.jsonl"), List.of(
                Map.of("instruction", "a", "output", "b"), Map.of("instruction", "c", "response", "d")));
        List<DatasetRow> rows = DatasetReader.read(f);
        DatasetType.ALPACA.toSample(rows.get(0), null);
        CrucibleException e = assertThrows(CrucibleException.class, () -> DatasetType.ALPACA.toSample(rows.get(1), null));
        assertTrue(e.getMessage().startsWith(f + " line 2: missing field 'output'"), e.getMessage());

        CrucibleException role = assertThrows(CrucibleException.class, () -> DatasetType.SHAREGPT.toSample(
                row(Map.of("conversations", List.of(Map.of("from", "bot", "value", "x")))), null));
        assertEquals("mem.jsonl line 1: conversations[0].from is 'bot' (expected human, user, assistant, gpt, model,"
                + " system or tool)", role.getMessage());

        CrucibleException noRole = assertThrows(CrucibleException.class, () -> DatasetType.MESSAGES.toSample(
                row(Map.of("messages", List.of(Map.of("content", "x")))), null));
        assertEquals("mem.jsonl line 1: messages[0] has no string 'role'", noRole.getMessage());

        CrucibleException notList = assertThrows(CrucibleException.class, () -> DatasetType.MESSAGES.toSample(
                row(Map.of("messages", "hello")), null));
        assertTrue(notList.getMessage().contains("field 'messages' of a 'messages' dataset must be a list"),
                notList.getMessage());

        CrucibleException text = assertThrows(CrucibleException.class, () -> DatasetType.COMPLETION.toSample(
                row(Map.of("content", "x")), null));
        assertTrue(text.getMessage().startsWith("mem.jsonl line 1: missing field 'text'"), text.getMessage());

        ChatTemplate failing = ChatTemplate.of("{{ raise_exception('no system role') }}");
        CrucibleException tpl = assertThrows(CrucibleException.class, () -> new ExampleBuilder(tokenizer, failing, 64, false)
                .build(DatasetType.MESSAGES.toSample(row(Map.of("messages", List.of(msg("user", "x")))), null)));
        assertTrue(tpl.getMessage().startsWith("mem.jsonl line 1: the chat template failed")
                && tpl.getMessage().contains("no system role"), tpl.getMessage());
    }

    /** The ids whose label is not -100, in order. */
    static int[] trained(SftExample e) {
        return Arrays.stream(e.labels()).filter(l -> l != SftExample.IGNORE_INDEX).toArray();
    }

    /** The decoded text of each run of labelled tokens. */
    static List<String> trainedRuns(SftExample e) {
        return DataFixtures.trainedRuns(tokenizer, e);
    }
}
