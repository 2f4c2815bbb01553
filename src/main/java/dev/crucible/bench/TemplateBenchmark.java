package dev.crucible.bench;

import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Chat-template renders per second on a synthetic conversation ({@code crucible template bench}): one thread,
 * a fixed clock for {@code strftime_now}, JIT warm-up before measuring.
 */
public final class TemplateBenchmark {
    private TemplateBenchmark() {
    }

    /** What one measurement gives: the prompt length and the renders done in the measured time. */
    public record Result(int turns, int chars, long renders, double seconds) {
        public double rendersPerSecond() {
            return renders / seconds;
        }

        public double megabytesPerSecond() {
            return renders * (double) chars / seconds / 1e6;
        }
    }

    public static Result run(ChatTemplate template, int turns, double seconds, double warmup) {
        ZonedDateTime fixed = ZonedDateTime.of(2025, 7, 10, 12, 0, 0, 0, ZoneOffset.UTC);
        ChatTemplate t = template.withClock(() -> fixed);
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
        return new Result(turns, chars, n, (now - start) / 1e9);
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
