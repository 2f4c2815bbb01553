package dev.crucible.io;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output-path rules every writing command shares (the commands' own regression tests are in cli). */
class OutputCheckTest {
    @TempDir
    Path tmp;
    Path config;
    Path model;
    final List<String> notes = new ArrayList<>();

    @BeforeEach
    void inputs() throws IOException {
        config = Files.writeString(tmp.resolve("cfg.yml"), "merge_method: linear");
        model = Files.createDirectories(tmp.resolve("models/base"));
        Files.writeString(model.resolve("config.json"), "{}");
    }

    private Path check(Path out, boolean overwrite) {
        return OutputCheck.of(out, "OUT_DIR").reads("the config", config).reads("the input model", model)
                .directory(overwrite, notes::add);
    }

    private String refused(Path out, boolean overwrite) {
        return assertThrows(CrucibleException.class, () -> check(out, overwrite)).getMessage();
    }

    @Test
    void theOutputMayNotBeAnInput() {
        assertTrue(refused(model, true).contains("is the input model " + model), refused(model, true));
    }

    @Test
    void theOutputMayNotContainAnInput() {
        // `crucible merge cfg.yml .` run where cfg.yml lives, and an output that is a model's parent
        assertTrue(refused(tmp, true).contains("contains the config " + config), refused(tmp, true));
        assertTrue(refused(tmp.resolve("models"), true).contains("contains the input model"),
                refused(tmp.resolve("models"), true));
    }

    @Test
    void theOutputMayNotLieInsideAnInput() {
        String message = refused(model.resolve("merged"), true);
        assertTrue(message.contains("is inside the input model " + model), message);
    }

    @Test
    void linksAndDotDotCannotHideAnInput() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-base"), model);
        assertTrue(refused(link, true).contains("is the input model"), refused(link, true));
        Path dotted = tmp.resolve("other/../models/base");
        assertTrue(refused(dotted, true).contains("is the input model"), refused(dotted, true));
        Path viaLinkedParent = Files.createSymbolicLink(tmp.resolve("m"), tmp.resolve("models")).resolve("base/out");
        assertTrue(refused(viaLinkedParent, true).contains("is inside the input model"), refused(viaLinkedParent, true));
    }

    @Test
    void aNonEmptyOutputNeedsOverwrite() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertEquals(out, check(out, false), "an empty directory is fine");
        for (String f : List.of("a.txt", "b.txt", "c.txt", "d.txt")) {
            Files.writeString(out.resolve(f), f);
        }
        String message = refused(out, false);
        assertTrue(message.contains("exists and is not empty (a.txt, b.txt, c.txt and 1 more); pass --overwrite"),
                message);
        assertEquals(out, check(out, true));
        assertEquals(4, out.toFile().list().length, "checking touches nothing");
    }

    @Test
    void aFileOrADanglingLinkIsNoOutputDirectory() throws IOException {
        Path file = Files.writeString(tmp.resolve("out"), "x");
        assertTrue(refused(file, true).contains("exists and is not a directory"), refused(file, true));
        Path dangling = Files.createSymbolicLink(tmp.resolve("gone"), tmp.resolve("nowhere"));
        assertTrue(refused(dangling, true).contains("is a symbolic link to something that does not exist"),
                refused(dangling, true));
        Path underFile = file.resolve("sub");
        assertTrue(refused(underFile, true).contains("is not a directory"), refused(underFile, true));
    }

    @Test
    void aSymlinkToANewPlaceIsFine() throws IOException {
        Path real = Files.createDirectories(tmp.resolve("disk/out"));
        Path link = Files.createSymbolicLink(tmp.resolve("out"), real);
        assertEquals(link, check(link, false));
    }

    @Test
    void staleStagingOfTheSameOutputIsRemovedAndNamed() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor(10, TimeUnit.SECONDS);
        Path stale = Files.createDirectories(tmp.resolve(".out.crucible-tmp-" + gone.pid() + "-3"));
        Path out = tmp.resolve("out");
        check(out, false);
        assertFalse(Files.exists(stale));
        assertEquals(List.of("note: removed " + stale + ", a staging directory left by an interrupted run"), notes);
        Path inside = Files.createDirectories(out.resolve(".crucible-tmp-" + gone.pid() + "-4"));
        check(out, false); // only a stale staging directory inside: the output counts as empty
        assertFalse(Files.exists(inside));
    }

    @Test
    void fileOutputs() throws IOException {
        Path weights = Files.writeString(model.resolve("model.safetensors"), "weights");
        OutputCheck check = OutputCheck.of(weights, "--out").reads("the model", model);
        assertTrue(assertThrows(CrucibleException.class, () -> check.file(true)).getMessage()
                .contains("is inside the model"));
        Path existing = Files.writeString(tmp.resolve("out.gguf"), "x");
        assertTrue(assertThrows(CrucibleException.class, () -> OutputCheck.of(existing, "OUT").file(false))
                .getMessage().contains("exists; pass --overwrite"));
        assertEquals(existing, OutputCheck.of(existing, "OUT").file(true));
        assertTrue(assertThrows(CrucibleException.class, () -> OutputCheck.of(tmp, "OUT").file(true))
                .getMessage().contains("is a directory"));
    }
}
