package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code crucible template render}, run through the real command line. */
class TemplateCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path write(Path dir, String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }

    @Test
    void rendersATemplateFileExactly(@TempDir Path dir) throws IOException {
        Path tpl = write(dir, "t.jinja", "{% for m in messages %}\n  {% if m.role == 'user' %}\n[{{ m.content }}]\n"
                + "  {% endif %}\n{% endfor %}\n");
        Path ctx = write(dir, "c.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"héllo 🤗\"},"
                + " {\"role\": \"assistant\", \"content\": \"x\"}]}");
        CliRun r = CliRun.of("template", "render", "--template", tpl.toString(), "--context", ctx.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("[héllo 🤗]\n", r.out());

        // Python Jinja2 with trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True gives this text
        r = CliRun.of("template", "render", "--template", tpl.toString(), "--context", ctx.toString(), "--no-trim-blocks",
                "--no-lstrip-blocks", "--keep-trailing-newline");
        assertEquals("\n  \n[héllo 🤗]\n  \n\n  \n\n", r.out());
        r = CliRun.of("template", "render", "--template", tpl.toString(), "--context", ctx.toString(), "--no-trim-blocks");
        assertEquals("\n\n[héllo 🤗]\n\n\n\n", r.out());
    }

    @Test
    void rendersAModelsTemplateWithItsSpecialTokens(@TempDir Path dir) throws IOException {
        Path model = Files.createDirectory(dir.resolve("model"));
        Files.copy(Path.of("testdata/hf/models/llama/config.json"), model.resolve("config.json"));
        Files.copy(Path.of("testdata/real_configs/Llama-3.2-1B-Instruct.tokenizer_config.json"),
                model.resolve("tokenizer_config.json"));
        Path ctx = write(dir, "c.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}],"
                + " \"add_generation_prompt\": true, \"date_string\": \"01 Jan 2025\"}");
        CliRun r = CliRun.of("template", "render", "--model", model.toString(), "--context", ctx.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                + "December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", r.out());
    }

    @Test
    void batchWritesOneResultLinePerCase(@TempDir Path dir) throws IOException {
        Path cases = write(dir, "cases.jsonl", String.join("\n",
                "{\"template\": \"{{ greeting }}, {{ name|upper }}!\", \"context\": {\"greeting\": \"Hi\", \"name\": \"ann\"}}",
                "{\"template\": \"{{ raise_exception('System role not supported') }}\", \"context\": {}}",
                "{\"template\": \"a\\n{% if %}\"}",
                "{\"template\": \"  {% if true %}\\nx\\n  {% endif %}\\n\", \"options\": {\"trim_blocks\": false,"
                        + " \"lstrip_blocks\": false, \"keep_trailing_newline\": true}}",
                "{\"template\": \"  {% if true %}\\nx\\n  {% endif %}\\n\"}",
                "not json",
                "{\"template\": \"{{ x.y }}\"}")
                + "\n");
        CliRun r = CliRun.of("template", "render", "--batch", cases.toString());
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(7, lines.size(), r.out());
        assertEquals("Hi, ANN!", field(lines.get(0), "output"));
        assertEquals("System role not supported", field(lines.get(1), "error"));
        assertTrue(field(lines.get(2), "error").startsWith("template syntax error at line 2, column 7: "),
                lines.get(2));
        assertEquals("  \nx\n  \n", field(lines.get(3), "output"));
        assertEquals("x\n", field(lines.get(4), "output"));
        assertTrue(field(lines.get(5), "error").contains(":6: not valid JSON"), lines.get(5));
        assertEquals("'x' is undefined", field(lines.get(6), "error"));
    }

    private static String field(String line, String name) throws IOException {
        JsonNode n = JSON.readTree(line);
        assertEquals(1, n.size(), line);
        assertTrue(n.has(name), line);
        return n.get(name).asText();
    }

    @Test
    void badInputGivesOneLineErrors(@TempDir Path dir) throws IOException {
        Path tpl = write(dir, "t.jinja", "line 1\n{{ 1 + }}");
        Path ctx = write(dir, "c.json", "{}");
        CliRun r = CliRun.of("template", "render", "--template", tpl.toString(), "--context", ctx.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith("error: " + tpl + ": template syntax error at line 2, column 8: "), r.err());
        r = CliRun.of("template", "render", "--template", tpl.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--context"), r.err());
        r = CliRun.of("template", "render", "--template", tpl.toString(), "--context", write(dir, "l.json", "[1]").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("must be a JSON object"), r.err());
        r = CliRun.of("template", "render", "--template", tpl.toString(), "--model", dir.toString(), "--context", ctx.toString());
        assertEquals(2, r.exitCode(), "--template and --model are mutually exclusive");
        r = CliRun.of("template", "render", "--model", dir.toString(), "--context", ctx.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("no config.json"), r.err());
    }
}
