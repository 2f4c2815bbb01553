package dev.crucible.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.crucible.CrucibleException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * Creates DJL's native Hugging Face tokenizer without network access and without DJL's own defaults: DJL
 * truncates to 512 tokens unless told not to, may download a CUDA build of the library on GPU machines, and
 * sends a usage ping; all three are switched off here.
 */
final class NativeTokenizers {
    static {
        configureOffline();
    }

    private NativeTokenizers() {
    }

    /**
     * Must run before DJL's classes initialise: offline mode makes DJL take the CPU library bundled in the jar
     * (never a download) and skip its telemetry call; the SLF4J setting keeps "no provider" noise off stderr.
     * Values the user set explicitly are left alone.
     */
    private static void configureOffline() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
        setIfAbsent("TOKENIZERS_FLAVOR", "cpu");
        setIfAbsent("slf4j.internal.verbosity", "ERROR");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    static HuggingFaceTokenizer create(String tokenizerJson, Path source) {
        // Through the InputStream overload DJL applies no tokenizer_config.json of its own (no lower-casing,
        // accent stripping or space clean-up); Tokenizer applies transformers' rules itself.
        Map<String, String> options = Map.of(
                "addSpecialTokens", "true",
                "truncation", "false",
                "padding", "false",
                "withOverflowingTokens", "false");
        try {
            return HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(tokenizerJson.getBytes(StandardCharsets.UTF_8)), options);
        } catch (IOException e) {
            throw new CrucibleException(source + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (e.getClass().getName().startsWith("ai.djl.engine")) {
                throw new CrucibleException("cannot load the Hugging Face tokenizers native library bundled with"
                        + " Crucible (" + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                        + "): " + rootMessage(e), e);
            }
            throw new CrucibleException(source + ": the tokenizers library rejected it: " + rootMessage(e), e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
