package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.tensor.FloatFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A mergekit command line runs with the program name replaced: every flag in the real {@code --help} of
 * mergekit-yaml, mergekit-moe and mergekit-extract-lora (testdata/mergekit/cli, written by tools/mergekit_help.sh)
 * is accepted by the matching Crucible command and listed in the README's table.
 */
class MergekitFlagsTest {
    static final Path FIXTURES = Path.of("testdata/mergekit").toAbsolutePath();
    /** An option line of click's help: two spaces, then the declarations ("-j, --num-threads INTEGER"). */
    static final Pattern OPTION_LINE = Pattern.compile("^  (-[^ ]*(?:(?:, | / )-[^ ]+)*)( [A-Z]+)?(?:\\s{2,}|$)");

    @TempDir
    Path tmp;

    /** The flags of one mergekit script: name -> metavar (null for a flag without a value). */
    static Map<String, String> flags(String script) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : Files.readAllLines(FIXTURES.resolve("cli/" + script + ".txt"))) {
            Matcher m = OPTION_LINE.matcher(line);
            if (m.find()) {
                for (String name : m.group(1).split(", | / ")) {
                    out.put(name, m.group(2) == null ? null : m.group(2).trim());
                }
            }
        }
        return out;
    }

    static List<String> crucibleArgs(String script) {
        return switch (script) {
            case "mergekit-yaml" -> List.of("merge", "cfg.yml", "out");
            case "mergekit-moe" -> List.of("moe", "cfg.yml", "out");
            case "mergekit-extract-lora" -> List.of("extract-lora", "--model", "a", "--base-model", "b", "--out-path",
                    "out");
            default -> throw new IllegalArgumentException(script);
        };
    }

    static String sampleValue(String flag, String metavar) {
        return switch (metavar) {
            case "INTEGER" -> "2";
            case "FLOAT" -> "0.5";
            case "SIZE" -> "5B";
            default -> flag.equals("--lora-merge-dtype") ? "bfloat16" : flag.equals("--device") ? "cpu" : "x";
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"mergekit-yaml", "mergekit-moe", "mergekit-extract-lora"})
    void everyFlagOfMergekitsHelpIsAccepted(String script) throws IOException {
        Map<String, String> flags = flags(script);
        int expected = switch (script) { // every declaration of the help text, "--x / --no-x" counted as two
            case "mergekit-yaml" -> 37;
            case "mergekit-moe" -> 40;
            default -> 52;
        };
        assertEquals(expected, flags.size(), "parsed " + flags.keySet());
        CommandLine cli = Main.commandLine(); // picocli resets every option before each parse
        for (Map.Entry<String, String> f : flags.entrySet()) {
            List<String> args = new ArrayList<>(crucibleArgs(script));
            if (args.contains(f.getKey())) {
                continue; // a required option already given
            }
            args.add(f.getKey());
            if (f.getValue() != null) {
                args.add(sampleValue(f.getKey(), f.getValue()));
            }
            try {
                cli.parseArgs(args.toArray(String[]::new));
            } catch (CommandLine.ParameterException e) {
                throw new AssertionError("crucible " + String.join(" ", args) + ": " + e.getMessage(), e);
            }
        }
    }

    @Test
    void theReadmeTableNamesEveryMergekitFlag() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        for (String script : List.of("mergekit-yaml", "mergekit-moe", "mergekit-extract-lora")) {
            for (String flag : flags(script).keySet()) {
                assertTrue(readme.contains("`" + flag + "`"), "README's mergekit flag table misses " + flag);
            }
        }
    }

    @Test
    void aMergekitYamlCommandLineWithEveryFlagGivesTheSameMerge() throws IOException {
        Path cfg = FIXTURES.resolve("configs/linear.yml");
        CliRun plain = CliRun.of("merge", cfg.toString(), tmp.resolve("plain").toString(), "--base-dir",
                FIXTURES.toString(), "--quiet");
        assertEquals(0, plain.exitCode(), plain.err());
        // as a mergekit user types it (README of mergekit), plus every no-op flag
        CliRun mergekit = CliRun.of("merge", cfg.toString(), tmp.resolve("mk").toString(), "--base-dir",
                FIXTURES.toString(), "--cuda", "--copy-tokenizer", "--allow-crimes", "--out-shard-size", "1B",
                "--lazy-unpickle", "--low-cpu-memory", "--trust-remote-code", "--transformers-cache", "/tmp/hf",
                "--lora-merge-cache", "/tmp/lora", "--clone-tensors", "--safe-serialization", "--read-to-gpu",
                "--multi-gpu", "--gpu-rich", "--async-write", "--write-threads", "4", "--device", "cuda:0",
                "--no-quiet", "--quiet", "--random-seed", "0", "-j", "2", "--write-model-card");
        assertEquals(0, mergekit.exitCode(), mergekit.err());
        assertEquals(List.of("note: no effect in Crucible: --cuda, --lazy-unpickle, --low-cpu-memory, "
                + "--trust-remote-code, --transformers-cache, --lora-merge-cache, --clone-tensors, --read-to-gpu, "
                + "--multi-gpu, --gpu-rich, --async-write, --write-threads, --device"), mergekit.err().lines().toList());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("plain/model.safetensors")),
                Files.readAllBytes(tmp.resolve("mk/model.safetensors")));
    }

    @Test
    void negationsAndVerbosityHaveTheirMeaning() throws IOException {
        Path cfg = FIXTURES.resolve("configs/linear.yml");
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("merge", cfg.toString(), out.toString(), "--base-dir", FIXTURES.toString(),
                "--no-write-model-card", "--no-copy-tokenizer", "--no-safe-serialization", "-vv", "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(List.of("config.json", "model.safetensors"), s.map(p -> p.getFileName().toString()).sorted()
                    .toList(), "no card, no config copy, no tokenizer");
        }
        assertTrue(r.err().contains("note: no effect in Crucible: --no-safe-serialization (Crucible writes "
                + "safetensors only)"), r.err());
        assertTrue(r.err().contains("model.layers.0.self_attn.q_proj.weight BF16[64, 64] <- "), "-v prints the plan: "
                + r.err());
    }

    @Test
    void loraMergeDtypeRoundsTheFoldedModelBeforeTheMerge() throws IOException {
        // mergekit folds model+adapter into a model saved in --lora-merge-dtype, then merges that model
        Path hf = Path.of("testdata/hf").toAbsolutePath();
        Path cfg = Files.writeString(tmp.resolve("lora.yml"), "merge_method: linear\nmodels:\n  - model: "
                + hf.resolve("models/llama") + "+" + hf.resolve("adapters/lora")
                + "\n    parameters: {weight: 1.0}\ndtype: float32\n");
        CliRun f32 = CliRun.of("merge", cfg.toString(), tmp.resolve("f32").toString(), "--quiet");
        CliRun bf16 = CliRun.of("merge", cfg.toString(), tmp.resolve("bf16").toString(), "--quiet",
                "--lora-merge-dtype", "bfloat16");
        assertEquals(0, f32.exitCode(), f32.err());
        assertEquals(0, bf16.exitCode(), bf16.err());
        int rounded = 0;
        try (Checkpoint a = Checkpoint.open(tmp.resolve("f32")); Checkpoint b = Checkpoint.open(tmp.resolve("bf16"))) {
            for (String n : a.names()) {
                float[] exact = a.tensor(n).toFloatArray();
                float[] viaBf16 = b.tensor(n).toFloatArray();
                for (int i = 0; i < exact.length; i++) {
                    assertEquals(FloatFormats.roundToBf16(exact[i]), viaBf16[i], n + "[" + i + "]");
                    rounded += exact[i] != viaBf16[i] ? 1 : 0;
                }
            }
        }
        assertTrue(rounded > 1000, "the folded weights were rounded: " + rounded);
    }

    @Test
    void outShardSizeCountsBytesAsMergekitsWriterDoes() throws IOException {
        // mergekit's help says "parameters", but its TensorWriter compares numel * element_size with the limit
        // (mergekit/io/tensor_writer.py): 100k means 100,000 bytes of tensor data per shard.
        Path out = tmp.resolve("sharded");
        CliRun r = CliRun.of("merge", FIXTURES.resolve("configs/linear.yml").toString(), out.toString(), "--base-dir",
                FIXTURES.toString(), "--out-shard-size", "100k", "--quiet", "-j", "1");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode index = new ObjectMapper().readTree(out.resolve("model.safetensors.index.json").toFile());
        Map<String, Long> bytesPerShard = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = index.get("weight_map").properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            try (SafetensorsFile f = SafetensorsFile.open(out.resolve(e.getValue().asText()))) {
                bytesPerShard.merge(e.getValue().asText(), f.info(e.getKey()).byteSize(), Long::sum);
            }
        }
        assertEquals(4, bytesPerShard.size(), bytesPerShard.toString()); // mergekit-yaml also writes 4 shards here
        bytesPerShard.values().forEach(b -> assertTrue(b <= 100_000, bytesPerShard.toString()));
        assertEquals(361_600L, bytesPerShard.values().stream().mapToLong(Long::longValue).sum());
    }

    @Test
    void sizesParseAsMergekitParsesThemWithByteUnitsBesides() {
        // mergekit's parse_kmb: a plain count, or a count with k / m / b (thousand, million, billion)
        assertEquals(5_000_000_000L, MergekitOptions.bytes("5B", "--out-shard-size"));
        assertEquals(5_000_000_000L, MergekitOptions.bytes("5b", "--out-shard-size"));
        assertEquals(100_000L, MergekitOptions.bytes("100k", "--out-shard-size"));
        assertEquals(500_000_000L, MergekitOptions.bytes("500M", "--out-shard-size"));
        assertEquals(123_456L, MergekitOptions.bytes("123456", "--out-shard-size"));
        // byte units on top
        assertEquals(2_500_000_000L, MergekitOptions.bytes("2.5GB", "--out-shard-size"));
        assertEquals(1L << 30, MergekitOptions.bytes("1GiB", "--out-shard-size"));
        assertEquals(384L << 20, MergekitOptions.bytes("384MiB", "--memory-budget"));
        for (String bad : List.of("0", "5X", "-1", "", "1e9", "99999999999T")) {
            CrucibleException e = assertThrows(CrucibleException.class, () -> MergekitOptions.bytes(bad, "--out-shard-size"));
            assertTrue(e.getMessage().startsWith("--out-shard-size: "), e.getMessage());
        }
    }
}
