package dev.crucible.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import dev.crucible.CrucibleException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    /**
     * Ids only, straight from the native encoding: DJL's {@code encode} also copies token strings, word ids,
     * masks and character spans into Java objects on every call, which costs more than the tokenization itself
     * for short texts. The tokenizer is configured as in {@link #create}, so the ids are the same.
     */
    static int[] encodeIds(HuggingFaceTokenizer tokenizer, String text, boolean addSpecialTokens) {
        long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, addSpecialTokens);
        try {
            return Tokenizer.toInts(TokenizersLibrary.LIB.getTokenIds(encoding));
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
    }

    /** {@link #encodeIds} for many texts in one native call (the library spreads them over its threads). */
    static List<int[]> batchEncodeIds(HuggingFaceTokenizer tokenizer, String[] texts, boolean addSpecialTokens) {
        long[] encodings = TokenizersLibrary.LIB.batchEncode(tokenizer.getHandle(), texts, addSpecialTokens);
        List<int[]> out = new ArrayList<>(encodings.length);
        try {
            for (long encoding : encodings) {
                out.add(Tokenizer.toInts(TokenizersLibrary.LIB.getTokenIds(encoding)));
            }
        } finally {
            for (long encoding : encodings) {
                TokenizersLibrary.LIB.deleteEncoding(encoding);
            }
        }
        return out;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
