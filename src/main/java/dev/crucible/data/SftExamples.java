package dev.crucible.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.model.ChatTokenization;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.model.template.TemplateException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns dataset rows into token ids and labels for supervised fine-tuning, in the formats Axolotl users know:
 * {@code alpaca} (instruction / input / output with the Alpaca prompt), {@code sharegpt} (conversations of
 * from/value), {@code messages} (role/content, through the chat template), {@code completion} (prompt /
 * completion) and {@code text} (plain text, every token trained). With {@code trainOnInputs} false only the
 * response tokens (assistant turns, completion, Alpaca output) carry labels; the rest get -100.
 */
public final class SftExamples {
    /** Token ids and labels (unshifted, -100 = no loss) of one row. */
    public record Tokenized(int[] ids, int[] labels) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input"
            + " that provides further context. Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
    private static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that"
            + " appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final boolean trainOnInputs;

    /** @param template the chat template for sharegpt and messages rows (null when no dataset needs one) */
    public SftExamples(Tokenizer tokenizer, ChatTemplate template, boolean trainOnInputs) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.trainOnInputs = trainOnInputs;
    }

    /** Rows of a JSONL file (one object per line) or a JSON file holding an array of objects. */
    public static List<JsonNode> readRows(Path file) {
        try {
            if (file.getFileName().toString().endsWith(".json")) {
                JsonNode root = JSON.readTree(file.toFile());
                if (root == null || !root.isArray()) {
                    throw new CrucibleException(file + ": expected a JSON array of rows");
                }
                List<JsonNode> out = new ArrayList<>();
                root.forEach(out::add);
                return out;
            }
            List<JsonNode> out = new ArrayList<>();
            int line = 0;
            for (String s : Files.readAllLines(file)) {
                line++;
                if (s.isBlank()) {
                    continue;
                }
                try {
                    out.add(JSON.readTree(s));
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new CrucibleException(file + ":" + line + ": not valid JSON: " + e.getOriginalMessage());
                }
            }
            return out;
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read dataset: " + e.getMessage(), e);
        }
    }

    /** One row in format {@code type}; {@code where} names the row in errors (file:line). */
    public Tokenized tokenize(JsonNode row, String type, String where) {
        return switch (type) {
            case "alpaca" -> alpaca(row, where);
            case "sharegpt" -> chat(sharegptMessages(row, where), where);
            case "messages" -> chat(messages(row, where), where);
            case "completion" -> promptAndResponse(tokenizer.encode(text(row, "prompt", where), true),
                    text(row, "completion", where));
            case "text" -> {
                int[] ids = withEos(tokenizer.encode(text(row, "text", where), true));
                yield new Tokenized(ids, ids.clone());
            }
            default -> throw new CrucibleException("dataset type '" + type
                    + "' is not one of alpaca, sharegpt, messages, completion, text");
        };
    }

    private static String text(JsonNode row, String field, String where) {
        JsonNode v = row.get(field);
        if (v == null || !v.isTextual()) {
            throw new CrucibleException(where + ": row has no text field '" + field + "'");
        }
        return v.asText();
    }

    private Tokenized alpaca(JsonNode row, String where) {
        String instruction = text(row, "instruction", where);
        String output = text(row, "output", where);
        String input = row.path("input").asText("");
        String prompt = input.isEmpty() ? ALPACA_NO_INPUT.formatted(instruction) : ALPACA_WITH_INPUT.formatted(instruction, input);
        if (row.path("system").isTextual() && !row.get("system").asText().isEmpty()) {
            prompt = row.get("system").asText() + "\n\n" + prompt;
        }
        return promptAndResponse(tokenizer.encode(prompt, true), output);
    }

    /** Prompt tokens (no loss unless train_on_inputs) then the response and EOS (loss). */
    private Tokenized promptAndResponse(int[] prompt, String response) {
        int[] answer = withEos(tokenizer.encode(response, false));
        int[] ids = new int[prompt.length + answer.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(answer, 0, ids, prompt.length, answer.length);
        int[] labels = ids.clone();
        if (!trainOnInputs) {
            java.util.Arrays.fill(labels, 0, prompt.length, ChatTokenization.IGNORE_INDEX);
        }
        return new Tokenized(ids, labels);
    }

    private int[] withEos(int[] ids) {
        Integer eos = tokenizer.eosTokenId();
        if (eos == null || (ids.length > 0 && ids[ids.length - 1] == eos)) {
            return ids;
        }
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    private static List<Map<String, Object>> messages(JsonNode row, String where) {
        JsonNode list = row.get("messages");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new CrucibleException(where + ": row has no 'messages' list");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode m : list) {
            out.add(message(text(m, "role", where), text(m, "content", where)));
        }
        return out;
    }

    private static List<Map<String, Object>> sharegptMessages(JsonNode row, String where) {
        JsonNode list = row.get("conversations");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new CrucibleException(where + ": row has no 'conversations' list");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode m : list) {
            String from = text(m, "from", where);
            String role = switch (from) {
                case "system" -> "system";
                case "human", "user" -> "user";
                case "gpt", "assistant" -> "assistant";
                case "function_call", "observation", "tool" -> "tool";
                default -> throw new CrucibleException(where + ": unknown sharegpt speaker '" + from
                        + "' (expected system, human, gpt, function_call or observation)");
            };
            out.add(message(role, text(m, "value", where)));
        }
        return out;
    }

    private static Map<String, Object> message(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    private Tokenized chat(List<Map<String, Object>> messages, String where) {
        if (template == null) {
            throw new CrucibleException(where + ": chat rows need a chat template (the model has none; set chat_template)");
        }
        ChatTokenization.Tokens tokens;
        try {
            tokens = ChatTokenization.tokenize(tokenizer, template.apply(ChatRequest.of(messages)));
        } catch (TemplateException e) {
            throw new CrucibleException(where + ": the chat template failed: " + e.getMessage(), e);
        }
        return new Tokenized(tokens.ids(), trainOnInputs ? tokens.ids().clone() : tokens.labels());
    }
}
