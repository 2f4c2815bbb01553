package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Measures chat-template renders per second on a synthetic conversation (one thread, after warm-up). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmark rendering a chat template on an N-turn conversation.")
final class TemplateBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--model", paramLabel = "MODEL_DIR", description = "model directory with a chat template")
        Path model;

        @Option(names = "--template", paramLabel = "FILE", description = "a Jinja template file")
        Path template;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--turns", defaultValue = "10", description = "user/assistant exchanges (default ${DEFAULT-VALUE})")
    int turns;

    @Option(names = "--seconds", defaultValue = "5", description = "measurement time (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "5", description = "JIT warm-up time before measuring (default ${DEFAULT-VALUE})")
    double warmup;

    @Override
    public Integer call() {
        ChatTemplate t;
        if (source.model != null) {
            t = ChatTemplate.fromModel(ModelDirectory.open(source.model));
        } else {
            try {
                t = ChatTemplate.of(Files.readString(source.template))
                        .withSpecialTokens(Map.of("bos_token", "<s>", "eos_token", "</s>"));
            } catch (IOException e) {
                throw new CrucibleException(source.template + ": cannot read: " + e.getMessage(), e);
            }
        }
        ZonedDateTime fixed = ZonedDateTime.of(2025, 7, 10, 12, 0, 0, 0, ZoneOffset.UTC);
        t = t.withClock(() -> fixed);
        ChatRequest req = ChatRequest.of(conversation(turns)).withGenerationPrompt(true);
        int chars = t.render(req).length();
        long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
        while (System.nanoTime() < warmEnd) {
            t.render(req);
        }
        long n = 0;
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        long now;
        do {
            for (int i = 0; i < 100; i++) {
                t.render(req);
            }
            n += 100;
            now = System.nanoTime();
        } while (now < end);
        double secs = (now - start) / 1e9;
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%d turns, %d chars per render: %.0f renders/s, %.1f MB/s of prompt text (%d renders in %.1f s)%n",
                turns, chars, n / secs, n * (double) chars / secs / 1e6, n, secs);
        out.flush();
        return 0;
    }

    /** A system prompt and {@code turns} user/assistant exchanges of realistic length. */
    static List<Map<String, Object>> conversation(int turns) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        msgs.add(Map.of("role", "system", "content", "You are a helpful assistant. Answer concisely and cite sources."));
        for (int i = 0; i < turns; i++) {
            msgs.add(Map.of("role", "user", "content", "Question " + i + ": how does a transformer's attention "
                    + "scale with sequence length, and what can be done about it?"));
            msgs.add(Map.of("role", "assistant", "content", "Answer " + i + ": self-attention costs O(n^2) in "
                    + "time and memory. Sparse, linear or sliding-window attention, and FlashAttention-style tiling, "
                    + "reduce the cost in practice."));
        }
        msgs.add(Map.of("role", "user", "content", "Thanks! One more question?"));
        return msgs;
    }
}
