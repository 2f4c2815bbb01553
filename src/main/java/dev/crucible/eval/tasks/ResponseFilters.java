package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.PythonRegex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * One {@code filter_list} entry (lm-eval's FilterEnsemble): a name and the filters applied in order to every
 * request's responses. Without a {@code filter_list} a task has lm-eval's default, {@code none} = take_first.
 */
final class ResponseFilters {
    private final String name;
    private final List<UnaryOperator<List<Object>>> steps;

    private ResponseFilters(String name, List<UnaryOperator<List<Object>>> steps) {
        this.name = name;
        this.steps = steps;
    }

    String name() {
        return name;
    }

    static List<ResponseFilters> of(TaskConfig c) {
        List<Object> list = c.list("filter_list");
        if (list == null) {
            return List.of(new ResponseFilters("none", List.of(ResponseFilters::takeFirst)));
        }
        List<ResponseFilters> out = new ArrayList<>();
        for (Object item : list) {
            if (!(item instanceof Map<?, ?> m) || !(m.get("name") instanceof String name)
                    || !(m.get("filter") instanceof List<?> fns)) {
                throw new CrucibleException(c.where() + ": each filter_list entry needs 'name' and 'filter' (a list of "
                        + "{function: ...})");
            }
            List<UnaryOperator<List<Object>>> steps = new ArrayList<>();
            for (Object f : fns) {
                if (!(f instanceof Map<?, ?> fm) || !(fm.get("function") instanceof String fn)) {
                    throw new CrucibleException(c.where() + ": filter " + name + ": each step needs 'function'");
                }
                Map<String, Object> kw = new LinkedHashMap<>();
                fm.forEach((k, v) -> {
                    if (!"function".equals(k)) {
                        kw.put(String.valueOf(k), v);
                    }
                });
                steps.add(step(fn, kw, c.where() + ": filter " + name));
            }
            out.add(new ResponseFilters(name, steps));
        }
        return out;
    }

    /** Filters every instance's responses; returns the filtered value of each instance, in order. */
    List<Object> apply(List<Object> resps) {
        List<Object> r = resps;
        for (UnaryOperator<List<Object>> s : steps) {
            r = s.apply(r);
        }
        return r;
    }

    private static UnaryOperator<List<Object>> step(String fn, Map<String, Object> kw, String where) {
        List<String> allowed = switch (fn) {
            case "take_first", "remove_whitespace", "lowercase", "uppercase", "majority_vote" -> List.of();
            case "take_first_k" -> List.of("k");
            case "regex" -> List.of("regex_pattern", "group_select", "fallback");
            case "map" -> List.of("mapping_dict", "default_value");
            default -> throw new CrucibleException(where + ": filter function '" + fn + "' is not supported (supported: "
                    + "take_first, take_first_k, regex, remove_whitespace, lowercase, uppercase, map, majority_vote)");
        };
        for (String k : kw.keySet()) {
            if (!allowed.contains(k)) {
                throw new CrucibleException(where + ": filter function " + fn + " takes no argument '" + k + "'"
                        + (allowed.isEmpty() ? "" : " (it takes " + String.join(", ", allowed) + ")"));
            }
        }
        return switch (fn) {
            case "take_first" -> ResponseFilters::takeFirst;
            case "take_first_k" -> {
                int k = ((Number) kw.get("k")).intValue();
                yield resps -> map(resps, r -> new ArrayList<>(items(r).subList(0, Math.min(k, items(r).size()))));
            }
            case "remove_whitespace" -> resps -> map(resps, r -> map(items(r), s -> PyText.strip((String) s)));
            case "lowercase" -> resps -> map(resps, r -> map(items(r), s -> ((String) s).toLowerCase(Locale.ROOT)));
            case "uppercase" -> resps -> map(resps, r -> map(items(r), s -> ((String) s).toUpperCase(Locale.ROOT)));
            case "majority_vote" -> resps -> map(resps, r -> List.of(majority(items(r))));
            case "map" -> {
                Map<?, ?> dict = kw.get("mapping_dict") instanceof Map<?, ?> d ? d : Map.of();
                Object dflt = kw.get("default_value");
                yield resps -> map(resps, r -> map(items(r), s -> dict.containsKey(s) ? dict.get(s) : dflt));
            }
            case "regex" -> {
                String pattern = kw.get("regex_pattern") == null ? "#### (\\-?[0-9\\.\\,]+)"
                        : String.valueOf(kw.get("regex_pattern"));
                PythonRegex.compile(pattern);
                int group = kw.get("group_select") == null ? 0 : ((Number) kw.get("group_select")).intValue();
                Object fallback = kw.containsKey("fallback") ? kw.get("fallback") : "[invalid]";
                yield resps -> map(resps, r -> map(items(r), s -> regex(pattern, group, fallback, s)));
            }
            default -> throw new IllegalStateException(fn);
        };
    }

    private static List<Object> takeFirst(List<Object> resps) {
        return map(resps, r -> items(r).getFirst());
    }

    /** lm-eval's RegexFilter on one response: the selected match (first non-empty group of a tuple), stripped. */
    private static Object regex(String pattern, int group, Object fallback, Object resp) {
        String text = resp instanceof String s ? s : "";
        List<Object> matches = PythonRegex.findall(pattern, text);
        if (matches.isEmpty()) {
            return fallback;
        }
        int index = group < 0 ? matches.size() + group : group;
        if (index < 0 || index >= matches.size()) {
            throw new CrucibleException("regex filter: group_select " + group + " is out of range for " + matches.size()
                    + " matches");
        }
        Object match = matches.get(index);
        if (match instanceof List<?> tuple) {
            match = null;
            for (Object m : tuple) {
                if (!((String) m).isEmpty()) {
                    match = m;
                    break;
                }
            }
            if (match == null) {
                return fallback instanceof String f ? PyText.strip(f) : fallback;
            }
        }
        return PyText.strip((String) match);
    }

    private static Object majority(List<Object> values) {
        Map<Object, Integer> counts = new LinkedHashMap<>();
        for (Object v : values) {
            counts.merge(v, 1, Integer::sum);
        }
        Object best = null;
        int most = -1;
        for (Map.Entry<Object, Integer> e : counts.entrySet()) {
            if (e.getValue() > most) {
                best = e.getKey();
                most = e.getValue();
            }
        }
        return best;
    }

    /** Python iteration over a response list (or over a string's characters, as lm-eval's filters would). */
    @SuppressWarnings("unchecked")
    private static List<Object> items(Object o) {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        if (o instanceof String s) {
            List<Object> chars = new ArrayList<>();
            s.codePoints().forEach(cp -> chars.add(new String(Character.toChars(cp))));
            return chars;
        }
        throw new CrucibleException("a filter needs a list of responses, got " + o);
    }

    private static List<Object> map(List<Object> in, UnaryOperator<Object> f) {
        List<Object> out = new ArrayList<>(in.size());
        for (Object o : in) {
            out.add(f.apply(o));
        }
        return out;
    }
}
