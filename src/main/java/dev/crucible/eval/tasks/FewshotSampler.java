package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.PythonValues;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * lm-eval's few-shot samplers: {@code default} draws with {@code random.Random(seed).sample} (n + 1 documents
 * when the shots come from the evaluated split, then the evaluated document is dropped), {@code first_n} takes the
 * first n in order. One generator per task, advanced document by document, as lm-eval does.
 */
final class FewshotSampler {
    private final String kind;
    private final PythonRandom rnd;

    FewshotSampler(String kind, Long seed) {
        if (seed == null) {
            throw new CrucibleException("the few-shot seed is unset; lm-eval would draw from the OS and not be "
                    + "reproducible (use a number in --seed)");
        }
        this.kind = kind;
        this.rnd = new PythonRandom(seed);
    }

    List<Map<String, Object>> sample(List<Map<String, Object>> docs, int n, Map<String, Object> evalDoc, String where) {
        if (docs.isEmpty()) {
            throw new CrucibleException(where + ": no documents to draw few-shot examples from");
        }
        if (kind.equals("first_n")) {
            List<Map<String, Object>> pool = evalDoc == null ? docs : without(docs, evalDoc);
            if (n > pool.size()) {
                throw new CrucibleException(where + ": " + n + " few-shot examples requested, " + pool.size() + " available");
            }
            return pool.subList(0, n);
        }
        List<Map<String, Object>> res;
        if (evalDoc == null) {
            res = draw(docs, n, where);
        } else {
            res = without(draw(docs, n + 1, where), evalDoc);
            res = res.subList(0, Math.min(n, res.size()));
        }
        if (res.size() < n) {
            res = draw(without(docs, evalDoc), n, where);
        }
        return res;
    }

    private List<Map<String, Object>> draw(List<Map<String, Object>> docs, int k, String where) {
        if (k > docs.size()) {
            throw new CrucibleException(where + ": " + k + " documents needed to draw the few-shot examples from, only "
                    + docs.size() + " available");
        }
        return rnd.sample(docs, k);
    }

    private static List<Map<String, Object>> without(List<Map<String, Object>> docs, Map<String, Object> doc) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> d : docs) {
            if (!PythonValues.equal(d, doc)) {
                out.add(d);
            }
        }
        return out;
    }
}
