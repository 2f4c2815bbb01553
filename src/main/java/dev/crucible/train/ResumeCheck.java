package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Compares the run a checkpoint was made by (the {@code settings} its {@code trainer_state.json} records) with the run
 * resuming it. What decides the shape or meaning of the saved values (method, base model, adapter rank, alpha,
 * targets, ...) must be equal: a difference is an error naming the config key. Training settings may change (a longer
 * run, another learning rate): each difference becomes a note, since the run then no longer repeats an uninterrupted
 * one.
 */
final class ResumeCheck {
    /** Adapter fields and the config keys a user sets them with. */
    private static final Map<String, String> ADAPTER_KEYS = Map.of("r", "lora_r", "lora_alpha", "lora_alpha",
            "use_rslora", "peft_use_rslora", "use_dora", "peft_use_dora (or adapter: dora)",
            "rank_pattern", "rank_pattern of lora_model_dir", "alpha_pattern", "alpha_pattern of lora_model_dir",
            "modules", "lora_target_modules / lora_target_linear", "modules_to_save", "lora_modules_to_save");

    private ResumeCheck() {
    }

    /** Throws when {@code current} cannot continue the checkpoint; returns notes on changed training settings. */
    static List<String> compare(Path checkpointDir, JsonNode state, JsonNode current) {
        String where = "cannot resume from " + checkpointDir + ": ";
        String fix = "; resume with the checkpoint's settings, or start a fresh run in a new output_dir";
        String savedMethod = state.path("method").asText();
        String method = current.path("method").asText();
        if (!savedMethod.equals(method)) {
            throw new CrucibleException(where + "it was trained by " + describeMethod(savedMethod) + ", this config asks for "
                    + describeMethod(method) + fix);
        }
        JsonNode saved = state.get("settings");
        if (saved == null) {
            return List.of(); // an older checkpoint: the parameter shapes are still checked one by one
        }
        String savedObjective = saved.path("objective").asText("sft");
        String objective = current.path("objective").asText("sft");
        if (!savedObjective.equals(objective)) {
            throw new CrucibleException(where + "it was trained by " + describeObjective(savedObjective) + ", this config"
                    + " asks for " + describeObjective(objective) + fix);
        }
        if (!saved.path("base_config_sha256").equals(current.path("base_config_sha256"))) {
            throw new CrucibleException(where + "it was trained on " + saved.path("base_model").asText()
                    + ", whose config.json differs from that of base_model " + current.path("base_model").asText() + fix);
        }
        JsonNode was = saved.path("adapter");
        JsonNode now = current.path("adapter");
        for (String field : List.of("r", "lora_alpha", "use_rslora", "use_dora", "rank_pattern", "alpha_pattern",
                "modules", "modules_to_save")) {
            if (!was.path(field).equals(now.path(field))) {
                throw new CrucibleException(where + "it was trained with " + ADAPTER_KEYS.get(field) + " "
                        + show(was.path(field)) + ", this config gives " + show(now.path(field)) + fix);
            }
        }
        List<String> notes = new ArrayList<>();
        JsonNode oldTraining = saved.path("training");
        current.path("training").properties().forEach(e -> {
            JsonNode before = oldTraining.get(e.getKey());
            if (before != null && !sameValue(before, e.getValue())) {
                notes.add("note: resuming with " + e.getKey() + " " + show(e.getValue()) + " (the checkpoint was made with "
                        + show(before) + "); the run will differ from an uninterrupted one");
            }
        });
        return notes;
    }

    private static String describeObjective(String objective) {
        return objective.equals("sft") ? "supervised fine-tuning" : "rl: " + objective;
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        return a.isNumber() && b.isNumber() ? a.asDouble() == b.asDouble() : a.equals(b);
    }

    private static String describeMethod(String method) {
        return method.equals("full") ? "full fine-tuning" : "a " + method + " adapter";
    }

    private static String show(JsonNode v) {
        if (v.isMissingNode() || v.isNull()) {
            return "(unset)";
        }
        String s = v.isTextual() ? v.asText() : v.toString();
        return s.length() > 120 ? s.substring(0, 117) + "..." : s;
    }
}
