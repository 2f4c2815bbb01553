package dev.crucible.train;

import dev.crucible.CrucibleException;

import java.util.Locale;

/**
 * The preference methods of {@code rl:}, with Axolotl's names, and which TRL 1.13 trainer each one follows:
 * DPO and IPO are {@code DPOTrainer} ({@code loss_type} sigmoid, robust with {@code dpo_label_smoothing}, ipo), KTO
 * is {@code KTOTrainer}, ORPO is {@code experimental.orpo.ORPOTrainer}, SimPO is {@code experimental.cpo.CPOTrainer}
 * with {@code loss_type: simpo}. DPO, IPO and KTO compare with a reference model; ORPO and SimPO need none. The
 * experimental trainers tokenise the older way (BOS and EOS added to every pair, completions cut against
 * {@code max_length}); the others as {@code DPOTrainer} does (see {@code data.PreferenceTokenizer}).
 */
public enum PreferenceMethod {
    DPO, IPO, ORPO, SIMPO, KTO;

    public static PreferenceMethod parse(String rl) {
        for (PreferenceMethod m : values()) {
            if (m.configName().equals(rl == null ? null : rl.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new CrucibleException("'rl' is '" + rl + "', expected dpo, ipo, orpo, simpo or kto");
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the loss compares with a reference model (DPO, IPO, KTO). */
    public boolean usesReference() {
        return this == DPO || this == IPO || this == KTO;
    }

    /** KTO trains on unpaired rows (prompt, completion, label); the others on chosen/rejected pairs. */
    public boolean paired() {
        return this != KTO;
    }

    /** ORPO and SimPO follow TRL's experimental trainers, which tokenise as TRL did before 1.0. */
    public boolean legacyTokenization() {
        return this == ORPO || this == SIMPO;
    }
}
