package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.data.recipe.Recipe;
import dev.crucible.merge.MergeConfig;
import dev.crucible.merge.MoeConfig;
import dev.crucible.tensor.DType;
import dev.crucible.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four config readers (train/sft, merge, mergekit-moe, data recipe) read YAML through one reader, so they are strict
 * the same way: a repeated key, an unknown key and a value of the wrong type are reported with the file and the line,
 * before any model or data is touched. The merge config alone keeps the last of repeated keys with a warning, as
 * mergekit (PyYAML) reads it.
 */
class ConfigStrictnessTest {
    static final Path MERGE_FIXTURES = Path.of("testdata/mergekit").toAbsolutePath();

    @TempDir
    Path tmp;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    private String error(Function<Path, ?> reader, Path file) {
        return assertThrows(CrucibleException.class, () -> reader.apply(file)).getMessage();
    }

    static final String TRAIN = """
            base_model: no-such-model
            datasets:
              - path: data.jsonl
                type: alpaca
            adapter: lora
            """;
    static final String MOE = """
            base_model: models/tinytok-base
            gate_mode: random
            experts:
              - source_model: models/tinytok-ft1
              - source_model: models/tinytok-ft2
            """;
    static final String RECIPE = """
            inputs:
              - {path: a.jsonl, type: alpaca}
            steps:
              - dedup: {method: exact}
            output: o.jsonl
            """;

    @Test
    void aRepeatedKeyIsRefusedWithItsLineExceptInMergeConfigs() throws IOException {
        String repeated = "not valid YAML: line 6, column 1: found duplicate key adapter";
        Path train = write("train.yml", TRAIN + "adapter: qlora\n");
        assertEquals(train + ": " + repeated + " (while constructing a mapping)", error(TrainConfig::read, train));
        Path moe = write("moe.yml", MOE + "gate_mode: hidden\n");
        assertTrue(error(f -> MoeConfig.read(f, false, MERGE_FIXTURES), moe)
                .startsWith(moe + ": not valid YAML: line 6, column 1: found duplicate key gate_mode"));
        Path recipe = write("recipe.yml", RECIPE + "output: p.jsonl\n");
        assertTrue(error(Recipe::read, recipe).startsWith(recipe + ": not valid YAML: line 6, column 1: found duplicate"
                + " key output"));
        Path merge = write("merge.yml", "merge_method: linear\ndtype: float16\nmodels:\n  - model: models/tiny-ft1\n"
                + "dtype: bfloat16\n");
        MergeConfig m = MergeConfig.read(merge, MERGE_FIXTURES);
        assertEquals(DType.BF16, m.dtype, "the last value counts");
        assertEquals(List.of(merge + ": line 5: 'dtype' repeats line 2; the last value counts, as mergekit (PyYAML)"
                + " reads it"), m.warnings);
    }

    @Test
    void unknownKeysNameTheirLineAndTheCloseKnownKey() throws IOException {
        Path train = write("train.yml", TRAIN + "lora_rnak: 4\n");
        assertTrue(error(TrainConfig::read, train).startsWith(train + " line 6: unknown key [lora_rnak]; did you mean"
                + " lora_r?"));
        Path dataset = write("dataset.yml", TRAIN.replace("type: alpaca", "type: alpaca\n    feild: text"));
        assertTrue(error(TrainConfig::read, dataset).startsWith(dataset + " line 3: datasets[0]: unknown keys [feild];"
                + " did you mean field?"), error(TrainConfig::read, dataset));
        Path moe = write("moe.yml", MOE.replace("gate_mode", "gate_mod"));
        assertTrue(error(f -> MoeConfig.read(f, false, MERGE_FIXTURES), moe).startsWith(moe + " line 2: config:"
                + " unknown key 'gate_mod'; did you mean gate_mode?"), error(f -> MoeConfig.read(f, false, MERGE_FIXTURES), moe));
        Path recipe = write("recipe.yml", RECIPE.replace("output:", "outptu:"));
        assertTrue(error(Recipe::read, recipe).startsWith(recipe + " line 5: recipe: unknown key 'outptu'; did you mean"
                + " output?"), error(Recipe::read, recipe));
        Path merge = write("merge.yml", "merge_method: linear\nmodels:\n  - model: models/tiny-ft1\n    paramters: {}\n");
        assertTrue(MergeConfig.read(merge, MERGE_FIXTURES).warnings.getFirst().startsWith(merge + " line 4: models[0]:"
                + " unknown key 'paramters' ignored, as mergekit ignores it; did you mean parameters?"));
    }

    @Test
    void aValueOfTheWrongTypeNamesFileKeyAndLine() throws IOException {
        Path train = write("train.yml", TRAIN + "lora_r: many\n");
        assertEquals(train + " line 6: 'lora_r' must be an integer, got many", error(TrainConfig::read, train));
        Path moe = write("moe.yml", MOE + "experts_per_token: two\n");
        assertEquals(moe + " line 6: experts_per_token: expected an integer, found string 'two'",
                error(f -> MoeConfig.read(f, false, MERGE_FIXTURES), moe));
        write("a.jsonl", "{\"instruction\": \"i\", \"input\": \"\", \"output\": \"o\"}\n");
        Path recipe = write("recipe.yml", RECIPE.replace("{method: exact}", "{method: minhash, threshold: high}"));
        assertTrue(error(Recipe::read, recipe).startsWith(recipe + " line 4: "), error(Recipe::read, recipe));
        Path merge = write("merge.yml", "merge_method: linear\nmodels:\n  - model: models/tiny-ft1\n"
                + "    parameters: {weight: heavy}\n");
        assertEquals(merge + " line 4: models[0].parameters.weight: expected a number, found string 'heavy'",
                error(f -> MergeConfig.read(f, MERGE_FIXTURES), merge));
    }
}
