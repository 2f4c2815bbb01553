package dev.crucible.merge;

import dev.crucible.CrucibleException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * A model as a merge config names it: {@code path} or {@code path+lora_dir}, resolved to local directories.
 * Crucible never downloads: a reference that only makes sense as a Hugging Face Hub id gets an error that says
 * how to fetch it first.
 *
 * @param spec the text of the config, used as the model's name in plans, errors and the model card
 * @param path the model directory
 * @param lora a PEFT LoRA adapter directory applied on the fly, or null
 */
public record ModelRef(String spec, Path path, Path lora) {
    private static final Pattern HUB_ID = Pattern.compile("^[A-Za-z0-9][\\w.-]*/[\\w.-]+(@[\\w./-]+)?$");

    /**
     * Resolves {@code spec} against {@code baseDirs} in order (mergekit resolves against the working directory;
     * the config's directory is a convenient fallback). As in mergekit, {@code MODEL+LORA} names a LoRA adapter
     * and {@code PATH@REVISION} a Hub revision, which a local directory ignores; a directory whose name contains
     * '+' or '@' is found as it is.
     */
    public static ModelRef resolve(String spec, String key, Path... baseDirs) {
        String text = spec.trim();
        Path whole = find(text, baseDirs);
        if (whole != null) {
            return new ModelRef(text, whole, null);
        }
        String[] parts = text.split("\\+", -1);
        if (parts.length > 2 || java.util.Arrays.stream(parts).anyMatch(String::isBlank)) {
            throw new CrucibleException(key + ": cannot parse '" + text + "': expected MODEL or MODEL+LORA (one '+')");
        }
        if (parts.length == 2) {
            return resolve(parts[0], parts[1], key, baseDirs);
        }
        return new ModelRef(text, require(text, key, baseDirs), null);
    }

    /** A model and an optional LoRA adapter given apart (mergekit's expanded {@code {model: ..., lora: ...}}). */
    public static ModelRef resolve(String model, String lora, String key, Path... baseDirs) {
        Path m = require(model.trim(), key, baseDirs);
        Path l = lora == null ? null : require(lora.trim(), key + " (LoRA adapter)", baseDirs);
        return new ModelRef(lora == null ? model.trim() : model.trim() + "+" + lora.trim(), m, l);
    }

    private static Path find(String text, Path... baseDirs) {
        Path p = Path.of(text);
        if (p.isAbsolute()) {
            return Files.isDirectory(p) ? p.normalize() : null;
        }
        for (Path base : baseDirs) {
            if (base == null) {
                continue;
            }
            Path r = base.resolve(text).toAbsolutePath().normalize();
            if (Files.isDirectory(r)) {
                return r;
            }
        }
        return null;
    }

    private static Path require(String text, String key, Path... baseDirs) {
        Path found = find(text, baseDirs);
        if (found != null) {
            return found;
        }
        int at = text.indexOf('@');
        if (at >= 0 && text.indexOf('@', at + 1) >= 0) {
            throw new CrucibleException(key + ": invalid model path '" + text + "': more than one '@' (PATH@REVISION)");
        }
        if (at > 0) {
            Path local = find(text.substring(0, at), baseDirs);
            if (local != null) {
                return local; // a revision means nothing to a local directory (mergekit ignores it too)
            }
        }
        String owner = text.contains("/") ? text.substring(0, text.indexOf('/')) : text;
        if (HUB_ID.matcher(text).matches() && find(owner, baseDirs) == null) {
            String id = at > 0 ? text.substring(0, at) : text;
            String revision = at > 0 ? " --revision " + text.substring(at + 1) : "";
            throw new CrucibleException(key + ": '" + text + "' is not a local directory; it looks like a Hugging Face"
                    + " Hub id. Crucible does not download models: fetch it first, e.g. `huggingface-cli download "
                    + id + revision + " --local-dir models/" + id.substring(id.indexOf('/') + 1)
                    + "`, then reference that directory in the config");
        }
        throw new CrucibleException(key + ": model directory '" + text + "' not found (looked in "
                + java.util.Arrays.stream(baseDirs).filter(java.util.Objects::nonNull)
                .map(b -> b.toAbsolutePath().normalize().toString()).distinct().toList() + ")");
    }

    /** Two references are the same model when they resolve to the same directories (mergekit compares paths). */
    @Override
    public boolean equals(Object o) {
        return o instanceof ModelRef r && r.path.equals(path) && java.util.Objects.equals(r.lora, lora);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(path, lora);
    }

    /** The text of the config, a short label for progress and plans. */
    @Override
    public String toString() {
        return spec;
    }
}
