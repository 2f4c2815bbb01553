package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ties, breadcrumbs_ties and sce on tensors of 0.5-4.2 million entries, bit for bit against mergekit (the SHA-256
 * of every output tensor mergekit wrote). At these sizes up to 7% of a tensor's entries are decided by the tie order
 * at the top-k cut, so the result depends on the order torch's CPU sort and topk leave equal keys in. The inputs are
 * regenerated from seeds ({@link SyntheticModels}, which {@code tools/mergekit_large_fixtures.py} ports to
 * Python); see {@code testdata/mergekit_large/README.md}.
 */
class LargeSelectionFidelityTest {
    static final Path FIXTURE = Path.of("testdata/mergekit_large").toAbsolutePath();

    @TempDir
    static Path work;
    static JsonNode expected;

    @BeforeAll
    static void generateInputs() throws IOException {
        expected = new ObjectMapper().readTree(FIXTURE.resolve("expected.json").toFile());
        JsonNode g = expected.get("generator");
        JsonNode s = g.get("shape");
        SyntheticModels.Shape shape = new SyntheticModels.Shape(s.get("hidden").asInt(), s.get("intermediate").asInt(),
                s.get("layers").asInt(), s.get("heads").asInt(), s.get("kv_heads").asInt(), s.get("vocab").asInt());
        for (Map.Entry<String, JsonNode> m : g.get("models").properties()) {
            SyntheticModels.write(work.resolve(m.getKey()), shape, g.get("base_seed").asLong(),
                    m.getValue().get("seed").asLong(), m.getValue().get("delta_std").asDouble(), 2);
        }
    }

    /** The Java generator writes the very inputs mergekit merged (else a mismatch below would mean nothing). */
    @Test
    void inputsEqualThoseMergekitMerged() throws IOException {
        for (Map.Entry<String, JsonNode> m : expected.get("inputs").properties()) {
            try (Checkpoint c = Checkpoint.open(work.resolve(m.getKey()))) {
                for (Map.Entry<String, JsonNode> t : m.getValue().properties()) {
                    assertEquals(t.getValue().asText(), sha256(c.tensor(t.getKey())), m.getKey() + " " + t.getKey());
                }
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> everyCaseIsBitIdenticalToMergekit() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.get("cases").properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> c = it.next();
            tests.add(DynamicTest.dynamicTest(c.getKey(), () -> check(c.getKey(), c.getValue())));
        }
        return tests.stream();
    }

    private static void check(String name, JsonNode expectedCase) throws IOException {
        Path out = work.resolve("out-" + name);
        CliRun run = CliRun.of("merge", FIXTURE.resolve(expectedCase.get("config").asText()).toString(), out.toString(),
                "--base-dir", work.toString(), "--quiet", "--no-copy-tokenizer", "--no-write-model-card",
                "--threads", "2");
        assertEquals(0, run.exitCode(), run.err());
        List<String> wrong = new ArrayList<>();
        long tiedEntries = 0;
        long entries = 0;
        try (Checkpoint c = Checkpoint.open(out)) {
            for (Map.Entry<String, JsonNode> t : expectedCase.get("tensors").properties()) {
                JsonNode e = t.getValue();
                Tensor actual = c.tensor(t.getKey());
                tiedEntries += e.get("index_order_differs").asLong();
                entries += actual.numel();
                if (!sha256(actual).equals(e.get("sha256").asText())) {
                    wrong.add(t.getKey() + " (" + samplesDiffering(actual, e.get("samples")) + " of "
                            + e.get("samples").size() + " tie-decided sample entries differ)");
                }
            }
        }
        System.out.printf("large fidelity %-16s %d tensors, %d entries, %d decided by torch's tie order: %s%n", name,
                expectedCase.get("tensors").size(), entries, tiedEntries, wrong.isEmpty() ? "identical" : wrong);
        assertTrue(tiedEntries > 0, name + ": the fixture must exercise tie order");
        assertTrue(wrong.isEmpty(), name + ": differs from mergekit in " + wrong);
    }

    private static int samplesDiffering(Tensor t, JsonNode samples) {
        int differ = 0;
        for (JsonNode s : samples) {
            long i = s.get(0).asLong();
            long bits = t.dtype().byteSize() == 2
                    ? t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 * i) & 0xFFFF
                    : t.data().get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i) & 0xFFFFFFFFL;
            differ += bits == s.get(1).asLong() ? 0 : 1;
        }
        return differ;
    }

    static String sha256(Tensor t) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(t.data().asByteBuffer());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
