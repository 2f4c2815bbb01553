package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.Batches;
import dev.crucible.data.PackedSequence;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * The one pad-id rule of training batches ({@link Batches#padId}): the tokenizer's pad token, else its EOS, else 0;
 * and the reason any valid id will do: padding changes no loss, gradient or step of training.
 */
class PaddingTest {
    static final Path TOKENIZERS = Path.of("testdata/hf/tokenizers");

    @TempDir
    Path tmp;

    @Test
    void padIsTheTokenizersPadElseItsEosElseZero() throws IOException {
        try (Tokenizer withPad = Tokenizer.load(TOKENIZERS.resolve("bytelevel_bpe"))) {
            assertEquals(withPad.tokenToId("<pad>"), Batches.padId(withPad));
            assertNotEquals(withPad.eosTokenId(), Batches.padId(withPad));
        }
        try (Tokenizer noPad = Tokenizer.load(TOKENIZERS.resolve("metaspace_bpe"))) { // pad_token: null
            assertEquals(noPad.tokenToId("</s>"), Batches.padId(noPad));
        }
        Path neither = Files.createDirectories(tmp.resolve("neither"));
        Files.copy(TOKENIZERS.resolve("metaspace_bpe/tokenizer.json"), neither.resolve("tokenizer.json"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(TOKENIZERS.resolve("metaspace_bpe/tokenizer_config.json").toFile());
        config.putNull("eos_token");
        Files.writeString(neither.resolve("tokenizer_config.json"), config.toString());
        try (Tokenizer none = Tokenizer.load(neither)) {
            assertEquals(0, Batches.padId(none));
        }
        // a model directory applies the rule to its tokenizer; without a tokenizer.json (weights only) the pad is 0
        Path model = Files.createDirectories(tmp.resolve("model"));
        Files.copy(SftTrainerTest.BASE.resolve("config.json"), model.resolve("config.json"));
        assertEquals(0, Batches.padId(ModelDirectory.open(model)));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(TOKENIZERS.resolve("metaspace_bpe").resolve(f), model.resolve(f));
        }
        try (Tokenizer t = Tokenizer.load(model)) {
            assertEquals(t.tokenToId("</s>"), Batches.padId(ModelDirectory.open(model)));
            assertNotEquals(0, Batches.padId(t), "EOS is not id 0, so the rule is seen to apply");
        }
    }

    /** Rows of different lengths, so that every micro-batch pads; two pad ids give the same bits. */
    @Test
    void thePadIdChangesNoNumberOfTraining() throws IOException {
        List<PackedSequence> train = SftTrainerTest.data(16, 3);
        List<PackedSequence> val = SftTrainerTest.data(8, 4);
        List<double[]> runs = new ArrayList<>();
        for (int pad : new int[] {0, 511}) {
            ModelDirectory base = ModelDirectory.open(SftTrainerTest.BASE);
            try (var trainer = Trainer.sft(base, SftTrainerTest.settings(Trainer.Method.LORA, 2, 0, 0), pad)) {
                List<Trainer.StepMetrics> steps = new ArrayList<>();
                double before = trainer.evaluate(val).get("eval_loss");
                trainer.train(train, val, tmp.resolve("out" + pad), steps::add);
                runs.add(new double[] {before, steps.get(0).loss(), steps.get(0).gradNorm(), steps.get(1).loss(),
                        steps.get(1).gradNorm(), steps.get(1).evalLoss()});
            }
        }
        for (int i = 0; i < runs.get(0).length; i++) {
            assertEquals(runs.get(0)[i], runs.get(1)[i], 0.0, "figure " + i + " with pad 0 and pad 511");
        }
    }
}
