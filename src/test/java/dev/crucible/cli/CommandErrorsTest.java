package dev.crucible.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10, item 8: every command and subcommand prints its help with exit 0, and bad input to each of them
 * (missing files, bad YAML/JSON, bad numbers, wrong paths) gives exit 1 or 2 and a one-line {@code error:}, never a
 * Java stack trace. A new command fails {@link #everyCommandIsFedBadInput} until it gets cases here.
 */
class CommandErrorsTest {
    @TempDir
    static Path tmp;
    static Path missing;
    static Path notADir;
    static Path badYaml;
    static Path emptyDir;
    static Path corruptModel;
    static Path badJson;
    static Path model;
    static Path chatModel;

    @BeforeAll
    static void files() throws IOException {
        missing = tmp.resolve("no-such-thing");
        notADir = Files.writeString(tmp.resolve("a-file.txt"), "just text\n");
        badYaml = Files.writeString(tmp.resolve("bad.yml"), "models: [\n  - model: {x: \n");
        badJson = Files.writeString(tmp.resolve("bad.json"), "{\"messages\": [");
        emptyDir = Files.createDirectories(tmp.resolve("empty"));
        corruptModel = Files.createDirectories(tmp.resolve("corrupt"));
        Files.copy(Path.of("testdata/hf/models/llama/config.json"), corruptModel.resolve("config.json"));
        Files.write(corruptModel.resolve("model.safetensors"), new byte[] {(byte) 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        model = Path.of("testdata/hf/models/llama").toAbsolutePath();
        chatModel = Files.createDirectories(tmp.resolve("chat-model"));
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(model.resolve(f), chatModel.resolve(f));
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(Path.of("testdata/hf/tokenizers/bytelevel_bpe").resolve(f), chatModel.resolve(f));
        }
    }

    /** Each case: the command line, then a fragment its error line must contain. */
    static List<String[]> cases() {
        String m = missing.toString();
        String cfg = Path.of("testdata/mergekit/configs/linear.yml").toAbsolutePath() + " --base-dir "
                + Path.of("testdata/mergekit").toAbsolutePath();
        List<String[]> c = new ArrayList<>();
        add(c, "no-such-command", "Unmatched argument");
        add(c, "merge " + badYaml + " " + out() + " --no-such-flag", "Unknown option");
        add(c, "inspect " + m, "not found");
        add(c, "inspect " + emptyDir, "config.json");
        add(c, "inspect " + corruptModel, "model.safetensors");
        add(c, "merge " + m + " " + out(), "no-such-thing");
        add(c, "merge " + badYaml + " " + out(), "bad.yml: not valid YAML: line 2, column 3: expected the node content");
        add(c, "merge " + notADir + " " + out(), "a-file.txt");
        add(c, "merge " + badYaml + " " + out() + " --out-shard-size lots", "--out-shard-size");
        add(c, "merge " + badYaml + " " + out() + " -j zero", "--num-threads");
        add(c, "merge " + badYaml + " " + out() + " -j 0", "--num-threads");
        add(c, "merge " + badYaml + " " + out() + " --lora-merge-dtype int8", "--lora-merge-dtype");
        add(c, "merge " + cfg.replace(" --base-dir ", " " + notADir + " --base-dir "), "exists and is not a directory");
        add(c, "moe " + m + " " + out(), "no-such-thing");
        add(c, "moe " + badYaml + " " + out(), "bad.yml");
        add(c, "extract-lora --model " + m + " --base-model " + model + " --out-path " + out(), "--model");
        add(c, "extract-lora --model " + model + " --base-model " + model + " --out-path " + out() + " --max-rank x",
                "--max-rank");
        add(c, "extract-lora --model " + model + " --base-model " + model + " --out-path " + out() + " --max-rank 0",
                "--max-rank");
        add(c, "examples make-models " + notADir, "a-file.txt");
        add(c, "forward " + m + " --input " + m + " --out " + out(), "not found");
        add(c, "forward " + model + " --input " + notADir + " --out " + out(), "a-file.txt");
        add(c, "forward " + model + " --input " + notADir + " --out " + model.resolve("model.safetensors"),
                "is inside the model");
        add(c, "bench read --size-gb -1 --dir " + out(), "--size-gb");
        add(c, "bench runtime --shape huge", "--shape");
        add(c, "bench merge --scale 3 --dir " + out(), "--scale");
        add(c, "bench merge --method lerp --dir " + out(), "--method");
        add(c, "bench merge --mergekit " + m + " --dir " + out(), "--mergekit");
        add(c, "bench sft --shape huge", "--shape");
        add(c, "bench sft --shape tiny --methods full,qlorra", "--methods");
        add(c, "bench svd --rows 0", "--rows");
        add(c, "bench gguf", "give one of --write-model DIR or --decode MODEL");
        add(c, "bench gguf --decode " + m, "not found");
        add(c, "bench gguf --decode " + notADir, "not a GGUF file");
        add(c, "generate " + notADir + " --prompt hi", "not a GGUF file");
        add(c, "inspect " + notADir, "not a GGUF file");
        add(c, "bench gguf --write-model " + out() + " --shape huge", "--shape");
        add(c, "export gguf " + m + " " + out(), "not found");
        add(c, "export gguf " + corruptModel + " " + out(), "model.safetensors");
        add(c, "export gguf " + model + " " + out(), "no tokenizer (tokenizer.model or tokenizer.json)");
        add(c, "export gguf " + model + " " + out() + " --outtype q3_k", "unknown GGUF type 'q3_k'");
        add(c, "export gguf " + model + " " + model.resolve("x.gguf"), "is inside the model");
        add(c, "export gguf " + model + " --all-types", "--all-types needs --out-dir");
        add(c, "generate " + m + " --prompt hi", "not found");
        add(c, "generate " + model + " --prompt hi --max-new-tokens many", "--max-new-tokens");
        add(c, "generate " + chatModel + " --prompt hi --temperature -1", "--temperature");
        add(c, "chat " + m, "not found");
        add(c, "eval perplexity " + m + " --data " + notADir, "not found");
        add(c, "eval tasks " + model + " --tasks no_such_task", "tasks not found: no_such_task");
        add(c, "eval tasks " + m + " --tasks arc_challenge", "model directory not found");
        add(c, "eval compare " + m + " " + m, "no such results file or directory");
        add(c, "eval compare " + m, "requires at least 2 values");
        add(c, "bench eval-tasks --docs 0 --prepare-only --dir " + out(), "--docs");
        add(c, "bench eval-tasks --tokenizer " + m + " --prepare-only --dir " + out(), "--tokenizer needs");
        add(c, "eval perplexity " + model + " --data " + m, "no-such-thing");
        add(c, "lora merge " + m + " " + m + " " + out(), "not found");
        add(c, "lora merge " + model + " " + emptyDir + " " + out(), "adapter_config.json");
        add(c, "lora merge " + model + " " + emptyDir + " " + out() + " --dtype int8", "int8");
        add(c, "sft " + m, "no-such-thing");
        add(c, "sft " + badYaml, "bad.yml: not valid YAML: line 2");
        add(c, "train " + m, "no-such-thing");
        add(c, "plan " + m, "no such model directory or training config");
        add(c, "plan " + badYaml, "bad.yml: not valid YAML: line 2");
        add(c, "plan testdata/hf/models/llama --method full,lorra", "--method");
        add(c, "plan testdata/hf/models/llama --gpu-memory lots", "--gpu-memory: expected a byte count");
        add(c, "plan testdata/hf/models/llama --batch 0", "--batch");
        add(c, "train " + badYaml, "bad.yml: not valid YAML: line 2");
        add(c, "train " + preferenceConfig("rl: grpo\n"), "'rl' is 'grpo'");
        add(c, "train " + preferenceConfig("rl: dpo\nsimpo_gamma: 1\n"), "'simpo_gamma' does not apply to rl: dpo");
        add(c, "train " + preferenceConfig("rl: dpo\n"), "missing field 'chosen'");
        add(c, "train " + preferenceConfig("rl_beta: 0.1\n"), "'rl_beta' applies to preference training");
        add(c, "train " + preferenceConfig("rl: dpo\nrandom_init_weights: true\n"), "'random_init_weights: true' trains a model from scratch");
        add(c, "quickstart " + notADir, "exists and is not a directory");
        add(c, "tokenize " + m + " --text hi", "not found");
        add(c, "tokenize " + model + " --file " + m, "no-such-thing");
        add(c, "template render --template " + m + " --context " + badJson, "no-such-thing");
        add(c, "template render --template " + notADir + " --context " + badJson, "bad.json");
        add(c, "template bench --template " + m, "no-such-thing");
        add(c, "data preview " + m + " " + m + " --type messages", "not found");
        add(c, "data preview " + chatModel + " " + badJson + " --type messages", "bad.json");
        add(c, "data preview " + model + " " + notADir + " --type nonsense", "nonsense");
        add(c, "data run " + m, "no-such-thing");
        add(c, "data run " + badYaml, "bad.yml: not valid YAML: line 2");
        add(c, "data run " + notADir, "expected a mapping with inputs, steps and output");
        add(c, "data run " + badYaml + " --threads x", "--threads");
        add(c, "data stats " + m + " --type alpaca --report " + out(), "not found");
        add(c, "data stats " + notADir + " --type nonsense --report " + out(), "nonsense");
        add(c, "data stats " + notADir + " --type text --report " + notADir, "a-file.txt");
        return c;
    }

    /** A preference config over a row without 'chosen', with {@code extra} keys. */
    private static String preferenceConfig(String extra) {
        try {
            Path dir = Files.createDirectories(tmp.resolve("pref-" + outputs++));
            Files.writeString(dir.resolve("pairs.jsonl"), "{\"prompt\": \"Q\", \"rejected\": \"no\"}\n");
            return Files.writeString(dir.resolve("cfg.yml"), "base_model: " + chatModel + "\n" + extra
                    + "datasets:\n  - path: pairs.jsonl\n    type: preference\nmicro_batch_size: 2\noutput_dir: out\n")
                    .toString();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A fresh output path for each case, so that one case's leftovers cannot decide another's error. */
    private static String out() {
        return tmp.resolve("out-" + outputs++).toString();
    }

    private static int outputs;

    private static void add(List<String[]> cases, String commandLine, String fragment) {
        List<String> parts = new ArrayList<>(List.of(commandLine.split(" ")));
        parts.add(fragment);
        cases.add(parts.toArray(String[]::new));
    }

    /** "crucible", "crucible merge", "crucible lora merge", ... */
    static List<CommandLine> allCommands() {
        List<CommandLine> out = new ArrayList<>();
        collect(Main.commandLine(), out);
        return out;
    }

    private static void collect(CommandLine cmd, List<CommandLine> out) {
        out.add(cmd);
        cmd.getSubcommands().values().forEach(sub -> collect(sub, out));
    }

    private static List<String> path(CommandLine cmd) {
        List<String> names = new ArrayList<>();
        for (CommandLine c = cmd; c.getParent() != null; c = c.getParent()) {
            names.addFirst(c.getCommandName());
        }
        return names;
    }

    @Test
    void everyCommandPrintsItsHelpAndVersion() {
        for (CommandLine cmd : allCommands()) {
            List<String> args = new ArrayList<>(path(cmd));
            args.add("--help");
            CliRun r = CliRun.of(args.toArray(String[]::new));
            String name = String.join(" ", args);
            assertEquals(0, r.exitCode(), name + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: " + cmd.getCommandSpec().qualifiedName()), name + ": " + r.out());
            assertEquals("", r.err(), name);
            args.set(args.size() - 1, "--version");
            CliRun version = CliRun.of(args.toArray(String[]::new));
            assertEquals(0, version.exitCode(), String.join(" ", args));
            assertTrue(version.out().startsWith("crucible 0.1.0"), String.join(" ", args) + ": " + version.out());
        }
    }

    @Test
    void badInputGivesOneErrorLineAndNoStackTrace() {
        List<String> failures = new ArrayList<>();
        for (String[] c : cases()) {
            String[] args = java.util.Arrays.copyOf(c, c.length - 1);
            String fragment = c[c.length - 1];
            CliRun r = CliRun.of(args);
            List<String> errors = r.err().lines().filter(l -> l.startsWith("error: ")).toList();
            boolean ok = (r.exitCode() == 1 || r.exitCode() == 2) && !r.err().contains("at dev.")
                    && !r.err().contains("\tat ") && errors.size() == 1 && errors.getFirst().contains(fragment);
            if (!ok) {
                failures.add("crucible " + String.join(" ", args) + " -> exit " + r.exitCode() + ", expected '"
                        + fragment + "' in one error line:\n" + r.err());
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void everyCommandIsFedBadInput() {
        Set<String> covered = new TreeSet<>();
        for (String[] c : cases()) {
            covered.add(c[0]);
            if (c.length > 2) {
                covered.add(c[0] + " " + c[1]);
            }
        }
        Set<String> leaves = new TreeSet<>();
        for (CommandLine cmd : allCommands()) {
            boolean runnable = cmd.getSubcommands().isEmpty();
            if (runnable && cmd.getParent() != null) {
                leaves.add(String.join(" ", path(cmd)));
            }
        }
        leaves.removeAll(covered);
        assertEquals(Set.of(), leaves, "commands without a bad-input case in this test");
    }

    @Test
    void aBugIsOneLineWithTheTraceInAFileAndExit70() throws IOException {
        // No user input reaches a bug on purpose; a command object that throws a plain RuntimeException stands in.
        CommandLine cli = Main.commandLine();
        cli.addSubcommand(new Boom());
        java.io.StringWriter err = new java.io.StringWriter();
        cli.setErr(new java.io.PrintWriter(err));
        int code = cli.execute("boom");
        assertEquals(Main.BUG, code);
        List<String> lines = err.toString().lines().toList();
        assertEquals(1, lines.size(), err.toString());
        assertTrue(lines.getFirst().startsWith("error: unexpected java.lang.IllegalStateException: invariant broken (a "
                + "bug in Crucible; the stack trace is in "), lines.getFirst());
        Path trace = Path.of(lines.getFirst().replaceAll(".*the stack trace is in (.*)\\)$", "$1"));
        assertTrue(Files.readString(trace).contains("at dev.crucible.cli.CommandErrorsTest"), Files.readString(trace));
        Files.delete(trace);
    }

    @CommandLine.Command(name = "boom")
    static final class Boom implements Runnable {
        @Override
        public void run() {
            throw new IllegalStateException("invariant broken");
        }
    }
}
