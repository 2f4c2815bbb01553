package dev.crucible.eval.tasks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One request to the model (lm-eval's {@code Instance}): its type ({@code loglikelihood},
 * {@code loglikelihood_rolling}, {@code generate_until}), arguments ({@code (context, continuation)},
 * {@code (text,)} or {@code (context, generation_kwargs)}), the document it belongs to (its index) and its index
 * among the document's requests; the model's responses (one per repeat) and, per filter, the filtered response.
 */
final class Instance {
    final String requestType;
    final List<Object> arguments;
    final int idx;
    final int docId;
    final int repeats;
    final List<Object> resps = new ArrayList<>();
    final Map<String, Object> filteredResps = new LinkedHashMap<>();

    Instance(String requestType, List<Object> arguments, int idx, int docId, int repeats) {
        this.requestType = requestType;
        this.arguments = arguments;
        this.idx = idx;
        this.docId = docId;
        this.repeats = repeats;
    }
}
