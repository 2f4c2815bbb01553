package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.DatasetSpec;
import dev.crucible.data.DatasetType;
import dev.crucible.data.PackedSequence;
import dev.crucible.data.PreferenceDataset;
import dev.crucible.data.PreferenceTokenizer;
import dev.crucible.data.SamplePacker;
import dev.crucible.data.SftDataset;
import dev.crucible.data.SftExample;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import dev.crucible.train.PreferenceExample;
import dev.crucible.train.PreferenceMethod;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "data", description = "Dataset tools.", subcommands = {DataCommand.Preview.class, DataRunCommand.class,
        DataStatsCommand.class})
final class DataCommand {

    @Command(name = "preview", description = "Tokenise a dataset as `crucible train` would: print its statistics and"
            + " the first examples with the tokens that carry loss between \u27e6 and \u27e7 (or JSON with --json);"
            + " for --type preference or kto, the chosen and rejected sequences (or KTO's rows) as --rl tokenises them.")
    static final class Preview implements Callable<Integer> {
        private static final ObjectMapper JSON = new ObjectMapper();

        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "Model directory whose tokenizer (and chat template) is used.")
        Path modelDir;

        @Parameters(index = "1", paramLabel = "DATASET", description = "Dataset file or directory (.jsonl, .json, .parquet, .csv).")
        Path dataset;

        @Option(names = "--type", required = true, paramLabel = "TYPE",
                description = "chat_template, messages, sharegpt, alpaca, completion, text; preference or kto.")
        String type;

        @Option(names = "--rl", paramLabel = "METHOD", defaultValue = "dpo", description = "For preference data: the"
                + " method whose tokenisation to show (dpo, ipo, kto: TRL's DPOTrainer; orpo, simpo: its experimental"
                + " trainers). Default: ${DEFAULT-VALUE} (kto for --type kto).")
        String rl;

        @Option(names = "--field", paramLabel = "FIELD", description = "Field to read (completion, text, messages, sharegpt).")
        String field;

        @Option(names = "--chat-template", paramLabel = "NAME|FILE|JINJA",
                description = "tokenizer_default (the default), chatml, llama3, alpaca, a .jinja file or Jinja source.")
        String chatTemplate;

        @Option(names = "--sequence-len", paramLabel = "N", defaultValue = "2048", description = "Default: ${DEFAULT-VALUE}.")
        int sequenceLen;

        @Option(names = "--train-on-inputs", description = "Loss on every token, not only the responses.")
        boolean trainOnInputs;

        @Option(names = "--sample-packing", description = "Also report how the examples pack into sequences of --sequence-len.")
        boolean samplePacking;

        @Option(names = "--rows", paramLabel = "N", defaultValue = "3", description = "Examples to show. Default: ${DEFAULT-VALUE}.")
        int rows;

        @Option(names = "--json", description = "Print only the shown examples on stdout, as JSON lines {\"input_ids\","
                + " \"labels\"} (the statistics go to stderr).")
        boolean json;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            // with --json, stdout carries only the JSON lines so that it can be piped into a JSON reader
            PrintWriter summary = json ? spec.commandLine().getErr() : out;
            ModelDirectory model = ModelDirectory.open(modelDir);
            DatasetType datasetType = DatasetType.parse(type);
            if (datasetType.isPreference()) {
                return preference(datasetType, model, out, summary);
            }
            SftDataset.Config config = new SftDataset.Config(
                    List.of(new DatasetSpec(dataset, DatasetType.parse(type), field)), chatTemplate, sequenceLen,
                    trainOnInputs, samplePacking, 0, 0);
            try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
                SftDataset ds = SftDataset.load(config, model, tokenizer);
                summary.println(ds.stats().summary(sequenceLen));
                if (samplePacking) {
                    List<PackedSequence> packed = ds.trainSequences();
                    summary.printf(Locale.ROOT, "sample packing: %,d examples in %,d sequences of %,d slots, %.1f%% filled%n",
                            ds.train().size(), packed.size(), sequenceLen, 100 * SamplePacker.fill(packed, sequenceLen));
                }
                List<SftExample> shown = ds.train().subList(0, Math.min(rows, ds.train().size()));
                for (int k = 0; k < shown.size(); k++) {
                    SftExample e = shown.get(k);
                    if (json) {
                        out.println(toJson(e));
                    } else {
                        out.printf("%n--- example %d: %d tokens, %d with loss%n%s%n", k + 1, e.length(),
                                e.trainableTokens(), marked(tokenizer, e));
                    }
                }
            }
            summary.flush();
            out.flush();
            return 0;
        }

        /** Preference rows: each pair's chosen and rejected sequence (KTO: each row), completions marked. */
        private int preference(DatasetType datasetType, ModelDirectory model, PrintWriter out, PrintWriter summary) {
            PreferenceMethod method = PreferenceMethod.parse(datasetType == DatasetType.KTO && !spec.commandLine()
                    .getParseResult().hasMatchedOption("--rl") ? "kto" : rl);
            PreferenceDataset.Config config = new PreferenceDataset.Config(List.of(new DatasetSpec(dataset, datasetType,
                    field)), chatTemplate, method.legacyTokenization() ? PreferenceTokenizer.Style.LEGACY
                    : PreferenceTokenizer.Style.TRL, sequenceLen, 0, !method.paired(), 0, 0);
            try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
                PreferenceDataset ds = PreferenceDataset.load(config, model, tokenizer);
                summary.println(ds.stats().summary(sequenceLen));
                if (method == PreferenceMethod.ORPO && !json) {
                    summary.println("(ORPO's cross-entropy term also covers the chosen prompt)");
                }
                List<PreferenceExample> shown = ds.train().subList(0, Math.min(rows, ds.train().size()));
                for (int k = 0; k < shown.size(); k++) {
                    if (shown.get(k) instanceof PreferenceExample.Pair pair) {
                        if (json) {
                            ObjectNode node = JSON.createObjectNode();
                            node.set("chosen", toJson(example(pair.chosen())));
                            node.set("rejected", toJson(example(pair.rejected())));
                            out.println(node);
                        } else {
                            out.printf("%n--- pair %d%nchosen (%d tokens, %d with loss):%n%s%nrejected (%d tokens, %d"
                                            + " with loss):%n%s%n", k + 1, pair.chosen().ids().length,
                                    pair.chosen().completionLength(), marked(tokenizer, example(pair.chosen())),
                                    pair.rejected().ids().length, pair.rejected().completionLength(),
                                    marked(tokenizer, example(pair.rejected())));
                        }
                    } else {
                        PreferenceExample.Unpaired u = (PreferenceExample.Unpaired) shown.get(k);
                        PreferenceExample.Sequence s = u.sequence(u.completion(), sequenceLen);
                        if (json) {
                            out.println(toJson(example(s)).put("label", u.desirable()));
                        } else {
                            out.printf("%n--- row %d (%s): %d tokens, %d with loss%n%s%n", k + 1,
                                    u.desirable() ? "desirable" : "undesirable", s.ids().length, s.completionLength(),
                                    marked(tokenizer, example(s)));
                        }
                    }
                }
            }
            summary.flush();
            out.flush();
            return 0;
        }

        /** A sequence as an example whose labels are its completion. */
        private static SftExample example(PreferenceExample.Sequence s) {
            int[] labels = s.ids().clone();
            Arrays.fill(labels, 0, s.promptLength(), SftExample.IGNORE_INDEX);
            return new SftExample(s.ids(), labels);
        }

        private static ObjectNode toJson(SftExample e) {
            ObjectNode node = JSON.createObjectNode();
            ArrayNode ids = node.putArray("input_ids");
            Arrays.stream(e.inputIds()).forEach(ids::add);
            ArrayNode labels = node.putArray("labels");
            Arrays.stream(e.labels()).forEach(labels::add);
            return node;
        }

        /** The decoded example with each run of loss-carrying tokens between brackets. */
        private static String marked(Tokenizer tokenizer, SftExample e) {
            StringBuilder sb = new StringBuilder();
            int i = 0;
            while (i < e.length()) {
                boolean loss = e.labels()[i] != SftExample.IGNORE_INDEX;
                int j = i;
                while (j < e.length() && (e.labels()[j] != SftExample.IGNORE_INDEX) == loss) {
                    j++;
                }
                String text = tokenizer.decode(Arrays.copyOfRange(e.inputIds(), i, j));
                sb.append(loss ? "\u27e6" + text + "\u27e7" : text);
                i = j;
            }
            return sb.toString();
        }
    }
}
