package dev.crucible.model.template;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Locates the messages of a conversation in its render by rendering it again with a message replaced by a
 * placeholder and diffing the renders (Axolotl's turn finder), made safe for templates that render a turn
 * differently once it is no longer the last message (Qwen3 dropping old think blocks, Phi-3.5 writing its EOS
 * only at the very end, Mistral moving the system message).
 *
 * <p>For the full render R of the conversation M:
 * <ul>
 *   <li>{@code diff(X, variants)}: from the first character where X and a variant differ to the last one, taking
 *       the widest range over two placeholders whose first and last characters differ, so text that the real
 *       content shares with a placeholder never shrinks the range. Absent when a variant cannot be rendered or
 *       equals X (the template does not print the replaced part).</li>
 *   <li>The content region C_j of every message: R diffed with the message's {@code content} replaced (other
 *       fields kept). No located turn may overlap another message's content region, so nothing of a user or
 *       system message is ever part of another turn.</li>
 *   <li>A message i is located by the first of these candidates that overlaps no other content region: (1) the
 *       turn as the template renders it when last (T = render(M[:i+1]) diffed with Axolotl's dummy turn
 *       {role, content: placeholder}, which replaces reasoning and tool calls too) where the whole-turn diff of
 *       R starts, when R continues with exactly that text (this cuts off differences that leak into later
 *       messages, e.g. tool results that repeat their call); (2) the whole-turn diff of R (templates that
 *       render past turns differently); (3) C_i (the dummy turn is refused); (4) the first occurrence of the
 *       last-turn text after the content regions of the earlier messages (turns whose content the template
 *       does not print and whose dummy it refuses: gpt-oss and Mistral tool calls).</li>
 *   <li>The end of turn: what the template writes after the region when the turn is last, as far as R has the
 *       same text after it, never past the next message's content region ({@code <|im_end|>\n} for ChatML;
 *       {@code <|end|>\n<} for Phi-3.5, where only whole tokens count, see {@code ChatTokenization}).</li>
 * </ul>
 * {@code tools/chat_template_masks.py} implements the same procedure on transformers' renderer; the tests
 * compare both on every template of {@code testdata/chat_templates}.
 */
final class TurnFinder {
    /** The two placeholders: their first and last characters differ. */
    static final List<String> PLACEHOLDERS = List.of("[[crucible-turn-1]]", "((crucible-turn-2))");

    private record Region(int start, int end) {
        boolean overlapsAny(List<Region> others) {
            for (Region o : others) {
                boolean hit = o.start < o.end ? o.start < end && start < o.end : start < o.start && o.start < end;
                if (hit) {
                    return true;
                }
            }
            return false;
        }
    }

    private final Function<List<Map<String, ?>>, String> template;
    /** Renders by message list: the last turn's renders of the last message are those of the whole conversation. */
    private final Map<List<Map<String, ?>>, Optional<String>> renders = new HashMap<>();
    private final List<Map<String, ?>> messages;
    private final String full;
    private final Region[] content;

    /** {@code render} gives the render of a message list, or null when the template refuses it. */
    private TurnFinder(Function<List<Map<String, ?>>, String> render, List<? extends Map<String, ?>> messages,
                       String full) {
        this.template = render;
        this.messages = List.copyOf(messages);
        this.full = full;
        renders.put(this.messages, Optional.of(full));
        this.content = new Region[messages.size()];
        for (int j = 0; j < content.length; j++) {
            content[j] = diff(full, contentDummies(this.messages, j));
        }
    }

    /**
     * The turns of the messages whose role is in {@code roles} (every message when null) that can be located,
     * in message order.
     */
    static List<ChatPrompt.Turn> locate(Function<List<Map<String, ?>>, String> render,
                                        List<? extends Map<String, ?>> messages, String full, Set<String> roles) {
        TurnFinder finder = new TurnFinder(render, messages, full);
        List<ChatPrompt.Turn> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            Object role = messages.get(i).get("role");
            if (roles == null || roles.contains(role)) {
                ChatPrompt.Turn t = finder.locate(i);
                if (t != null) {
                    turns.add(t);
                }
            }
        }
        return List.copyOf(turns);
    }

    /** The first candidate region of message i that overlaps no other message's content, as a turn; or null. */
    private ChatPrompt.Turn locate(int i) {
        List<Region> others = new ArrayList<>();
        for (int j = 0; j < content.length; j++) {
            if (j != i && content[j] != null) {
                others.add(content[j]);
            }
        }
        List<Map<String, ?>> upToTurn = messages.subList(0, i + 1);
        String last = render(upToTurn);
        Region wholeLast = last == null ? null : diff(last, turnDummies(upToTurn, i));
        Region whole = diff(full, turnDummies(messages, i));
        ChatPrompt.Turn turn = null;
        if (whole != null && wholeLast != null) { // (1) the whole-turn diff cut to the turn as rendered when last
            int length = wholeLast.end - wholeLast.start;
            if (full.startsWith(last.substring(wholeLast.start, wholeLast.end), whole.start)) {
                turn = accept(i, new Region(whole.start, whole.start + length), wholeLast, last, others);
            }
        }
        if (turn == null && whole != null) { // (2) the whole-turn diff
            turn = accept(i, whole, wholeLast, last, others);
        }
        if (turn != null) {
            return turn;
        }
        Region contentLast = last == null ? null : diff(last, contentDummies(upToTurn, i));
        if (content[i] != null) { // (3) the content region
            turn = accept(i, content[i], contentLast, last, others);
        }
        Region inLast = wholeLast != null ? wholeLast : contentLast;
        if (turn == null && inLast != null && inLast.end > inLast.start) { // (4) the last-turn text, searched
            String turnText = last.substring(inLast.start, inLast.end);
            int from = 0;
            for (int j = 0; j < i; j++) {
                if (content[j] != null) {
                    from = Math.max(from, content[j].end);
                }
            }
            int at = full.indexOf(turnText, from);
            if (at >= 0) {
                turn = accept(i, new Region(at, at + turnText.length()), inLast, last, others);
            }
        }
        return turn;
    }

    /**
     * The turn of message i at {@code region}, or null when the region overlaps another message's content. Its
     * closing is what the last-turn render has after {@code inLast} (the region of the same dummy kind there), as
     * far as the full render has the same text, never past the next message's content.
     */
    private ChatPrompt.Turn accept(int i, Region region, Region inLast, String last, List<Region> others) {
        if (region.overlapsAny(others)) {
            return null;
        }
        int limit = full.length();
        for (Region o : others) {
            if (o.start >= region.end) {
                limit = Math.min(limit, o.start);
            }
        }
        String tail = inLast == null ? "" : last.substring(inLast.end);
        int closing = commonPrefix(tail, full.substring(region.end, limit));
        Object role = messages.get(i).get("role");
        return new ChatPrompt.Turn(i, role instanceof String s ? s : String.valueOf(role), region.start, region.end,
                region.end + closing);
    }

    private String render(List<Map<String, ?>> messages) {
        return renders.computeIfAbsent(messages, m -> Optional.ofNullable(template.apply(m))).orElse(null);
    }

    /** The widest differing range of {@code text} against the renders of {@code variants}. */
    private Region diff(String text, List<List<Map<String, ?>>> variants) {
        int start = Integer.MAX_VALUE;
        int end = 0;
        for (List<Map<String, ?>> v : variants) {
            String other = render(v);
            if (other == null || other.equals(text)) {
                return null;
            }
            start = Math.min(start, commonPrefix(text, other));
            end = Math.max(end, text.length() - commonSuffix(text, other));
        }
        return new Region(start, Math.max(start, end));
    }

    private static List<List<Map<String, ?>>> contentDummies(List<Map<String, ?>> messages, int i) {
        List<List<Map<String, ?>>> out = new ArrayList<>();
        for (String p : PLACEHOLDERS) {
            Map<String, Object> m = new LinkedHashMap<>(messages.get(i));
            m.put("content", p);
            out.add(replaced(messages, i, m));
        }
        return out;
    }

    /** Axolotl's dummy turn: only the role and the placeholder, so reasoning and tool calls are replaced too. */
    private static List<List<Map<String, ?>>> turnDummies(List<Map<String, ?>> messages, int i) {
        List<List<Map<String, ?>>> out = new ArrayList<>();
        for (String p : PLACEHOLDERS) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", messages.get(i).get("role"));
            m.put("content", p);
            out.add(replaced(messages, i, m));
        }
        return out;
    }

    private static List<Map<String, ?>> replaced(List<Map<String, ?>> messages, int i, Map<String, ?> message) {
        List<Map<String, ?>> out = new ArrayList<>(messages);
        out.set(i, message);
        return out;
    }

    /** Length of the common prefix, never ending inside a surrogate pair (Python compares code points). */
    static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        if (i > 0 && i < a.length() && Character.isHighSurrogate(a.charAt(i - 1))) {
            i--;
        }
        return i;
    }

    /** Length of the common suffix, never starting inside a surrogate pair. */
    static int commonSuffix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(a.length() - 1 - i) == b.charAt(b.length() - 1 - i)) {
            i++;
        }
        if (i > 0 && i < a.length() && Character.isLowSurrogate(a.charAt(a.length() - i))) {
            i--;
        }
        return i;
    }
}
