package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static dev.crucible.data.DataFixtures.msg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Axolotl's chat_template dataset keys: what a row becomes, and which tokens carry loss. */
class ChatOptionsTest {
    @TempDir
    static Path tmp;
    static ModelDirectory model;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        model = ModelDirectory.open(DataFixtures.bytelevelModel(tmp));
        tokenizer = Tokenizer.load(model.path());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static DatasetRow row(Map<String, ?> fields) {
        return new DatasetRow(Path.of("mem.jsonl"), "line", 1, new LinkedHashMap<>(fields));
    }

    static Sample.Chat chat(Map<String, ?> entry, Map<String, ?> fields) {
        Map<String, Object> e = new LinkedHashMap<>(entry);
        e.putIfAbsent("path", "x.jsonl");
        e.putIfAbsent("type", "chat_template");
        DatasetSpec spec = DatasetSpec.fromConfig(e, 0, tmp);
        return ChatRows.sample(row(fields), spec.type().configName(), spec.chat(), null);
    }

    /** The decoded runs of tokens with loss, through the ChatML template of the fixture model. */
    static List<String> trained(Sample.Chat chat) {
        SftExample e = new ExampleBuilder(tokenizer, ChatTemplates.resolve(null, model), 4096, false).build(chat);
        return e == null ? List.of() : DataFixtures.trainedRuns(tokenizer, e);
    }

    @Test
    void axolotlExampleConfigsParse() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(Path.of("testdata/datasets/axolotl_examples"))) {
            files = s.filter(p -> p.toString().endsWith(".yml") || p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertEquals(4, files.size());
        int entries = 0;
        for (Path f : files) {
            Map<?, ?> config = (Map<?, ?>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(f));
            List<?> datasets = (List<?>) config.get("datasets");
            for (int i = 0; i < datasets.size(); i++) {
                @SuppressWarnings("unchecked")
                DatasetSpec spec = DatasetSpec.fromConfig((Map<String, ?>) datasets.get(i), i, f.getParent());
                assertEquals(DatasetType.CHAT_TEMPLATE, spec.type(), f.toString());
                entries++;
            }
        }
        assertEquals(4, entries);
        // LiquidAI's legacy keys and qwen3's mappings both read ShareGPT-style rows
        Map<String, ?> fields = Map.of("conversations", List.of(Map.of("from", "human", "value", "hi"),
                Map.of("from", "gpt", "value", "yo")));
        List<Map<String, Object>> expected = List.of(Map.of("role", "user", "content", "hi"),
                Map.of("role", "assistant", "content", "yo"));
        assertEquals(expected, chat(Map.of("field_messages", "conversations", "message_field_role", "from",
                "message_field_content", "value"), fields).messages());
        assertEquals(expected, chat(Map.of("field_messages", "conversations", "message_property_mappings",
                Map.of("role", "from", "content", "value")), fields).messages());
    }

    @Test
    void messagesAreMappedAsAxolotlMapsThem() {
        Sample.Chat c = chat(Map.of("field_messages", "turns", "message_property_mappings",
                        Map.of("role", "speaker", "content", "text"), "field_thinking", "thought",
                        "template_thinking_key", "reasoning_content"),
                Map.of("system", "Be brief.", "turns", List.of(
                        Map.of("speaker", "human", "text", List.of(Map.of("type", "text", "text", "2+"),
                                Map.of("type", "text", "text", "2?"))),
                        Map.of("speaker", "gpt", "text", "4", "thought", "easy", "name", "bot"))));
        assertEquals(List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", "2+2?"),
                Map.of("role", "assistant", "content", "4", "reasoning_content", "easy", "name", "bot")), c.messages());
        assertNull(c.tools());

        // drop_system_message, tools as JSON text (parameters too), messages as JSON text, tool-call arguments parsed
        Sample.Chat t = chat(Map.of("drop_system_message", true), Map.of(
                "messages", "[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"},"
                        + " {\"role\": \"assistant\", \"tool_calls\": [{\"type\": \"function\", \"function\":"
                        + " {\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}}]}]",
                "tools", "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": \"{\\\"type\\\":"
                        + " \\\"object\\\"}\"}}]"));
        assertEquals(2, t.messages().size());
        assertEquals("user", t.messages().getFirst().get("role"));
        assertEquals(Map.of("x", 1), ((Map<?, ?>) ((Map<?, ?>) ((List<?>) t.messages().get(1).get("tool_calls"))
                .getFirst()).get("function")).get("arguments"));
        assertEquals(Map.of("type", "object"), ((Map<?, ?>) ((Map<?, ?>) t.tools().getFirst()).get("function"))
                .get("parameters"));
    }

    @Test
    void rolesToTrainAndTrainOnEosChooseTheLoss() {
        Map<String, ?> rows = Map.of("messages", List.of(msg("system", "S"), msg("user", "Q1"), msg("assistant", "A1"),
                msg("user", "Q2"), msg("assistant", "A2")));
        assertEquals(List.of("A1<|im_end|>\n", "A2<|im_end|>\n"), trained(chat(Map.of(), rows)));
        assertEquals(List.of("A1", "A2"), trained(chat(Map.of("train_on_eos", "none"), rows)));
        assertEquals(List.of("A1", "A2<|im_end|>\n"), trained(chat(Map.of("train_on_eos", "last"), rows)));
        assertEquals(List.of("<|im_end|>\n", "<|im_end|>\n", "A1<|im_end|>\n", "<|im_end|>\n", "A2<|im_end|>\n"),
                trained(chat(Map.of("train_on_eos", "all"), rows)));
        // roles are mapped: ShareGPT's names in roles_to_train work as in Axolotl
        assertEquals(List.of("Q1<|im_end|>\n", "A1<|im_end|>\n", "Q2<|im_end|>\n", "A2<|im_end|>\n"),
                trained(chat(Map.of("roles_to_train", List.of("human", "gpt")), rows)));
        assertEquals(List.of(), trained(chat(Map.of("roles_to_train", List.of()), rows)));
        // a custom role mapping replaces the default one
        Sample.Chat custom = chat(Map.of("roles", Map.of("assistant", List.of("bot"), "user", List.of("person"))),
                Map.of("messages", List.of(msg("person", "Q"), msg("bot", "A"))));
        assertEquals(List.of("user", "assistant"), custom.messages().stream().map(m -> m.get("role")).toList());
        assertEquals(Set.of("assistant"), custom.loss().rolesToTrain());
    }

    @Test
    void aDatasetMayBringItsOwnTemplate(@TempDir Path dir) throws Exception {
        DataFixtures.writeJsonl(dir.resolve("a.jsonl"), List.of(Map.of("messages", List.of(msg("user", "hi"),
                msg("assistant", "yo")))));
        Files.writeString(dir.resolve("t.jinja"), "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}");
        List<DatasetSpec> specs = List.of(
                DatasetSpec.fromConfig(Map.of("path", "a.jsonl", "type", "chat_template", "chat_template", "llama3"), 0, dir),
                DatasetSpec.fromConfig(Map.of("path", "a.jsonl", "type", "chat_template", "chat_template", "t.jinja"), 1, dir),
                DatasetSpec.fromConfig(Map.of("path", "a.jsonl", "type", "chat_template", "chat_template_jinja",
                        "{% for m in messages %}[{{ m.content }}]{% endfor %}"), 2, dir),
                DatasetSpec.fromConfig(Map.of("path", "a.jsonl", "type", "chat_template"), 3, dir));
        SftDataset ds = SftDataset.load(new SftDataset.Config(specs, null, 512, true, false, 0, 1), model, tokenizer);
        List<String> texts = ds.train().stream().map(e -> tokenizer.decode(e.inputIds())).toList();
        assertEquals(List.of("<s><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant"
                        + "<|end_header_id|>\n\nyo<|eot_id|>", "<user>hi<assistant>yo", "[hi][yo]",
                "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n"), texts);
    }

    @Test
    void badKeysAreOneLineErrors() {
        assertEquals("datasets[0]: train_on_eos is 'sometimes' (expected turn, last, all or none)",
                assertThrows(CrucibleException.class, () -> chat(Map.of("train_on_eos", "sometimes"), Map.of()))
                        .getMessage());
        assertEquals("datasets[0]: message_field_role 'speaker' conflicts with message_property_mappings.role 'from'",
                assertThrows(CrucibleException.class, () -> chat(Map.of("message_field_role", "speaker",
                        "message_property_mappings", Map.of("role", "from")), Map.of())).getMessage());
        CrucibleException notChat = assertThrows(CrucibleException.class, () -> DatasetSpec.fromConfig(Map.of("path",
                "x.jsonl", "type", "completion", "roles_to_train", List.of("assistant")), 2, null));
        assertEquals("datasets[2]: keys [roles_to_train] apply to the chat types only (chat_template, messages,"
                + " sharegpt), not to completion", notChat.getMessage());
        CrucibleException jinja = assertThrows(CrucibleException.class, () -> DatasetSpec.fromConfig(Map.of("path",
                "x.jsonl", "type", "chat_template", "chat_template", "jinja"), 0, null));
        assertTrue(jinja.getMessage().contains("chat_template: jinja needs chat_template_jinja"), jinja.getMessage());
        CrucibleException parts = assertThrows(CrucibleException.class, () -> chat(Map.of(), Map.of("messages",
                List.of(Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "x", "train", false)))))));
        assertTrue(parts.getMessage().contains("per-part 'train'/'weight' flags are not supported"), parts.getMessage());
    }
}
