package dev.crucible.eval.tasks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One request to the model (lm-eval's {@code Instance}): its type ({@code loglikelihood},
 * {@code loglikelihood_rolling}, {@code generate_until}), arguments ({@code (context, continuation)},
 * {@code (text,)} or {@code (context, generation_kwargs)}), the document it belongs to and its index among the
 * document's requests; the model's responses (one per repeat) and, per filter, the filtered response.
 */
public final class Instance {
    final String requestType;
    final Map<String, Object> doc;
    final List<Object> arguments;
    final int idx;
    final String taskName;
    final int docId;
    final int repeats;
    final List<Object> resps = new ArrayList<>();
    final Map<String, Object> filteredResps = new LinkedHashMap<>();

    Instance(String requestType, Map<String, Object> doc, List<Object> arguments, int idx, String taskName, int docId,
             int repeats) {
        this.requestType = requestType;
        this.doc = doc;
        this.arguments = arguments;
        this.idx = idx;
        this.taskName = taskName;
        this.docId = docId;
        this.repeats = repeats;
    }

    public String requestType() {
        return requestType;
    }

    public List<Object> arguments() {
        return arguments;
    }

    /** A log-likelihood request's context (empty for none). */
    String context() {
        return (String) arguments.get(0);
    }
}
