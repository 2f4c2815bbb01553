package dev.crucible.cli;

import dev.crucible.eval.LanguageModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Talk to a model through its chat template. Lines from stdin are user turns; /reset starts "
                + "over, /exit (or end of input) quits.")
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelAndAdapter modelOptions = new ModelAndAdapter();


    @Option(names = "--system", description = "system message for every conversation")
    String system;

    @Mixin
    GenerateCommand.SamplingOptions sampling = new GenerateCommand.SamplingOptions();

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        var sampler = sampling.sampler(); // options checked before the model loads
        try (LanguageModel model = modelOptions.load(spec.commandLine().getErr())) {
            List<Map<String, String>> messages = newConversation();
            model.requireChatTemplate();
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) {
                    break;
                }
                if (line.strip().equals("/reset")) {
                    messages = newConversation();
                    continue;
                }
                messages.add(Map.of("role", "user", "content", line));
                String reply = model.generate(model.chatIds(messages), sampling.maxNewTokens, sampler, out, true);
                out.println();
                messages.add(Map.of("role", "assistant", "content", reply));
            }
        }
        return 0;
    }

    private List<Map<String, String>> newConversation() {
        List<Map<String, String>> messages = new ArrayList<>();
        if (system != null) {
            messages.add(Map.of("role", "system", "content", system));
        }
        return messages;
    }
}
