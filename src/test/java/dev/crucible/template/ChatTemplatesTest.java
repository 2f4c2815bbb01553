package dev.crucible.template;

import dev.crucible.CrucibleException;
import dev.crucible.template.ChatTemplates.Convention;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one catalogue of built-in templates: each name means its own tool's text in each convention. Expected
 * renders are Python Jinja2 3.1.6's (transformers' settings) for the catalogue files.
 */
class ChatTemplatesTest {
    private static final List<Map<String, String>> CHAT = List.of(Map.of("role", "system", "content", "Be brief."),
            Map.of("role", "user", "content", "Greet"), Map.of("role", "assistant", "content", "Hello"));

    private static String render(Convention convention, String name) {
        return Template.compile(ChatTemplates.builtIn(convention, name)).render(Map.of("messages", CHAT,
                "bos_token", "<s>", "eos_token", "</s>", "add_generation_prompt", false));
    }

    @Test
    void eachConventionHasItsToolsNames() {
        assertEquals(Set.of("alpaca", "chatml", "exaone", "llama3", "mistral"), Convention.MERGEKIT.names());
        assertEquals(Set.of("alpaca", "chatml", "llama3"), Convention.AXOLOTL.names());
        assertEquals(Set.of("alpaca", "chatml", "llama3", "tokenizer_default"), ChatTemplates.names());
        assertNull(ChatTemplates.builtIn(Convention.AXOLOTL, "mistral"));
    }

    @Test
    void alpacaAndLlama3AreEachToolsOwnText() {
        assertEquals("Be brief.\n\n### Instruction:\nGreet\n\n### Response:\nHello", render(Convention.MERGEKIT, "alpaca"));
        assertEquals("Be brief.\n\n### Instruction: Greet\n\n### Response: Hello</s>", render(Convention.AXOLOTL, "alpaca"));
        assertEquals("<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\n<|start_header_id|>user"
                + "<|end_header_id|>\n\nGreet<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>\n",
                render(Convention.MERGEKIT, "llama3"));
        assertEquals("<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
                + "<|end_header_id|>\n\nGreet<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>",
                render(Convention.AXOLOTL, "llama3"));
        assertNotEquals(ChatTemplates.builtIn(Convention.MERGEKIT, "alpaca"), ChatTemplates.builtIn(Convention.AXOLOTL, "alpaca"));
    }

    @Test
    void chatmlIsOneFileForBoth() {
        assertEquals(ChatTemplates.builtIn(Convention.MERGEKIT, "chatml"), ChatTemplates.builtIn(Convention.AXOLOTL, "chatml"));
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nGreet<|im_end|>\n<|im_start|>assistant\n"
                + "Hello<|im_end|>\n", render(Convention.AXOLOTL, "chatml"));
    }

    @Test
    void mergekitNamesGiveMergekitsFilesByteForByte() throws Exception {
        // the fixture mergekit wrote for chat_template: chatml
        Path written = Path.of("testdata/mergekit/outputs/linear_chat_template/chat_template.jinja");
        assertEquals(Files.readString(written), ChatTemplates.mergekitSource("chatml"));
        for (String name : Convention.MERGEKIT.names()) {
            Template.compile(ChatTemplates.builtIn(Convention.MERGEKIT, name));
        }
    }

    @Test
    void mergekitKeyAcceptsAutoAndJinja() {
        assertNull(ChatTemplates.mergekitSource("auto"));
        String jinja = "{% for m in messages %}{{ m.content }}{% endfor %}";
        ChatTemplates.validateMergekit(jinja);
        assertEquals(jinja, ChatTemplates.mergekitSource(jinja));
        CrucibleException e = assertThrows(CrucibleException.class, () -> ChatTemplates.validateMergekit("vicuna"));
        assertEquals("chat_template: 'vicuna' is neither a built-in template [alpaca, chatml, exaone, llama3, mistral], "
                + "'auto', nor a Jinja template", e.getMessage());
    }
}
