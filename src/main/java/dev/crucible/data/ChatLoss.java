package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.model.ChatTokenization.LossRange;
import dev.crucible.model.template.ChatPrompt;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which parts of a chat carry loss, as Axolotl's {@code chat_template} options define them: the turns of the
 * roles in {@code roles_to_train}, and the end-of-turn closings chosen by {@code train_on_eos} (Axolotl's default:
 * assistant turns, each with its closing).
 *
 * <p>A turn is what the template rendered from the message (content, and reasoning and tool calls where the
 * template prints them); its closing is what the template writes after it ({@code <|im_end|>\n}), see
 * {@link ChatPrompt.Turn}. Axolotl finds the EOS/EOT token right after a turn; Crucible takes the template's own
 * closing, which is that token for the templates that close every turn.
 *
 * @param rolesToTrain the roles whose turns carry loss (after the dataset's role mapping)
 * @param trainOnEos   which closings carry loss
 */
public record ChatLoss(Set<String> rolesToTrain, TrainOnEos trainOnEos) {
    /** Axolotl's defaults: {@code roles_to_train: [assistant]}, {@code train_on_eos: turn}. */
    public static final ChatLoss DEFAULT = new ChatLoss(Set.of("assistant"), TrainOnEos.TURN);

    /** Axolotl's {@code train_on_eos} values. */
    public enum TrainOnEos {
        /** the closing of every trained turn */
        TURN,
        /** only the closing of the last trained turn that has one */
        LAST,
        /** the closing of every turn, trained or not (user turns included) */
        ALL,
        /** no closing */
        NONE;

        public static TrainOnEos parse(String value, String where) {
            for (TrainOnEos t : values()) {
                if (t.name().toLowerCase(Locale.ROOT).equals(value)) {
                    return t;
                }
            }
            throw new CrucibleException(where + ": train_on_eos is '" + value + "' (expected turn, last, all or none)");
        }
    }

    public ChatLoss {
        rolesToTrain = Set.copyOf(rolesToTrain);
    }

    /** The roles whose turns must be located; null (all) when every closing counts. */
    public Set<String> rolesToLocate() {
        return trainOnEos == TrainOnEos.ALL ? null : rolesToTrain;
    }

    /** The character ranges with loss of a prompt whose turns were located for {@link #rolesToLocate()}. */
    public List<LossRange> ranges(ChatPrompt prompt) {
        List<LossRange> out = new ArrayList<>();
        ChatPrompt.Turn lastClosed = null;
        for (ChatPrompt.Turn t : prompt.turns()) {
            boolean trained = rolesToTrain.contains(t.role());
            if (trained) {
                out.add(LossRange.of(t));
            }
            if (trainOnEos == TrainOnEos.ALL || trained && trainOnEos == TrainOnEos.TURN) {
                out.add(LossRange.endOf(t));
            }
            if (trained && t.endOfTurn() > t.end()) {
                lastClosed = t;
            }
        }
        if (trainOnEos == TrainOnEos.LAST && lastClosed != null) {
            out.add(LossRange.endOf(lastClosed));
        }
        return out;
    }
}
