package dev.crucible.cli;

import dev.crucible.eval.LanguageModel;
import dev.crucible.eval.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a model, streaming the text as it is generated (greedy at temperature 0).")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelAndAdapter modelOptions = new ModelAndAdapter();


    @Option(names = "--prompt", required = true, description = "the prompt text")
    String prompt;

    @Option(names = "--chat", description = "format the prompt as a user message with the model's chat template")
    boolean chat;

    @Option(names = "--system", description = "system message (with --chat)")
    String system;

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Sampler sampler = sampling.sampler(); // options checked before the model loads
        try (LanguageModel model = modelOptions.load(spec.commandLine().getErr())) {
            int[] ids;
            if (chat) {
                List<Map<String, String>> messages = new ArrayList<>();
                if (system != null) {
                    messages.add(Map.of("role", "system", "content", system));
                }
                messages.add(Map.of("role", "user", "content", prompt));
                ids = model.chatIds(messages);
            } else {
                if (system != null) {
                    throw new dev.crucible.CrucibleException("--system needs --chat");
                }
                ids = model.textIds(prompt);
            }
            model.generate(ids, sampling.maxNewTokens, sampler, out, chat);
            out.println();
        }
        return 0;
    }

    /** Options shared by generate and chat. */
    static final class SamplingOptions {
        @Option(names = "--max-new-tokens", defaultValue = "256", description = "default: ${DEFAULT-VALUE}")
        int maxNewTokens;

        @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default)")
        double temperature;

        @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens (0 = all)")
        int topK;

        @Option(names = "--top-p", defaultValue = "1", description = "nucleus sampling threshold (1 = off)")
        double topP;

        @Option(names = "--seed", defaultValue = "0", description = "seed of the sampling draws")
        long seed;

        Sampler sampler() {
            if (maxNewTokens < 1) {
                throw new dev.crucible.CrucibleException("--max-new-tokens must be at least 1");
            }
            if (temperature < 0 || topK < 0 || !(topP > 0 && topP <= 1)) {
                throw new dev.crucible.CrucibleException("need --temperature >= 0, --top-k >= 0 and 0 < --top-p <= 1");
            }
            return new Sampler(temperature, topK, topP, seed);
        }
    }
}
