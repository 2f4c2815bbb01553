package dev.crucible.model;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Encoding throughput of a model's tokenizer: one long document, and a batch of chat-sized texts encoded both
 * one by one and as one batch call. Deterministic inputs (seeded), warm-up before each measurement.
 *
 * <pre>java -cp target/crucible.jar dev.crucible.model.TokenizerBenchmark MODEL_DIR [SECONDS_PER_CASE [INPUTS.json]]</pre>
 *
 * With {@code INPUTS.json} the inputs are also written as {@code {"document": ..., "chats": [...]}} so that
 * another implementation (docs/bench/tokenizer_python.py) can be timed on exactly the same texts.
 */
public final class TokenizerBenchmark {
    private static final String[] WORDS = ("the model reads a prompt and writes an answer token by token while the"
            + " trainer masks every position outside the assistant turn so that loss falls only on replies ; numbers"
            + " such as 3.14159 , 2048 and 1e-5 appear in configs , code like def forward(self, x): return x * 2"
            + " appears in data , and names such as Llama , Qwen , Mistral or Gemma show up in model cards . Über"
            + " naïve café résumé 日本語 テキスト 中文 文本 🙂 🚀 !").split(" ");

    private TokenizerBenchmark() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: TokenizerBenchmark MODEL_DIR [SECONDS_PER_CASE [INPUTS.json]]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 5;
        Random random = new Random(42);
        String document = text(random, 200_000);
        List<String> chats = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            chats.add("<|im_start|>user\n" + text(random, 80 + random.nextInt(320)) + "<|im_end|>\n<|im_start|>"
                    + "assistant\n" + text(random, 80 + random.nextInt(600)) + "<|im_end|>\n");
        }
        if (args.length > 2) {
            writeInputs(Path.of(args[2]), document, chats);
        }
        try (Tokenizer tok = Tokenizer.load(dir)) {
            System.out.printf("tokenizer %s: %d tokens; document %d chars = %d tokens; batch of %d chats = %d"
                            + " tokens%n", dir, tok.size(), document.length(), tok.encode(document, false).length,
                    chats.size(), tok.encodeBatch(chats, false).stream().mapToInt(a -> a.length).sum());
            report("single long document", seconds, () -> tok.encode(document, false).length);
            report("chat texts one by one", seconds, () -> {
                long n = 0;
                for (String c : chats) {
                    n += tok.encode(c, false).length;
                }
                return n;
            });
            report("chat texts as one batch", seconds,
                    () -> tok.encodeBatch(chats, false).stream().mapToLong(a -> a.length).sum());
        }
    }

    private static void writeInputs(Path file, String document, List<String> chats) {
        try {
            new ObjectMapper().writeValue(file.toFile(), Map.of("document", document, "chats", chats));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private interface Work {
        long run();
    }

    private static void report(String name, double seconds, Work work) {
        long warmEnd = System.nanoTime() + (long) (seconds * 0.3e9);
        while (System.nanoTime() < warmEnd) {
            work.run();
        }
        long tokens = 0;
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        long now;
        do {
            tokens += work.run();
            now = System.nanoTime();
        } while (now < end);
        double elapsed = (now - start) / 1e9;
        System.out.printf("%-26s %,12.0f tokens/s%n", name, tokens / elapsed);
    }

    private static String text(Random random, int chars) {
        StringBuilder sb = new StringBuilder(chars + 16);
        while (sb.length() < chars) {
            sb.append(WORDS[random.nextInt(WORDS.length)]);
            sb.append(random.nextInt(12) == 0 ? "\n" : " ");
        }
        return sb.toString();
    }
}
