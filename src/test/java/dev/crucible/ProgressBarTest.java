package dev.crucible;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressBarTest {
    @Test
    void finalLineShowsItemsBytesAndEndsTheLine() {
        StringWriter text = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "merge", "tensors", true, true).expect(3, 3 << 20);
        for (int i = 0; i < 3; i++) {
            bar.add(1, 1 << 20);
        }
        String last = text.toString().substring(text.toString().lastIndexOf('\r') + 1);
        assertTrue(last.startsWith("merge [##############################] 3/3 tensors  3.1 MB/3.1 MB  "), last);
        assertTrue(last.contains("/s  ETA 0:00 "), last);
        assertTrue(last.endsWith(System.lineSeparator()), last);
    }

    @Test
    void withoutBytesTheRateIsInItems() {
        StringWriter text = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "perplexity", "tokens", true, true);
        bar.update(0, 10, 0, 0);
        assertTrue(text.toString().startsWith("\rperplexity [..............................] 0/10 tokens  0.0 tokens/s"),
                text.toString());
        bar.update(10, 10, 0, 0);
        assertTrue(text.toString().contains("10/10 tokens"), text.toString());
    }

    @Test
    void offATerminalItPrintsPlainLinesOnlyWhenDueAndAtTheEnd() {
        StringWriter text = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "merge", "tensors", true, false).expect(1000, 0);
        for (int i = 0; i < 1000; i++) {
            bar.add(1, 0); // a fast loop: well under the 10 s between log lines
        }
        String log = text.toString();
        assertEquals(-1, log.indexOf('\r'), "no carriage return in a log: " + log);
        assertEquals(1, log.lines().count(), "one line for a job shorter than the interval: " + log);
        assertTrue(log.startsWith("merge [##############################] 1000/1000 tensors"), log);
        assertTrue(log.endsWith("ETA 0:00" + System.lineSeparator()), "no trailing blank: " + log);
    }

    @Test
    void statusLinesFollowTheSameRules() {
        StringWriter terminal = new StringWriter();
        ProgressBar onTerminal = new ProgressBar(new PrintWriter(terminal), "sft", "steps", true, true);
        onTerminal.status("step 1/2 loss 2.0", false);
        onTerminal.status("step 2/2 loss 1.0", true);
        assertEquals("\rstep 1/2 loss 2.0\rstep 2/2 loss 1.0" + System.lineSeparator(), terminal.toString());
        StringWriter log = new StringWriter();
        ProgressBar inLog = new ProgressBar(new PrintWriter(log), "sft", "steps", true, false);
        inLog.status("step 1/2 loss 2.0", false);
        inLog.status("step 2/2 loss 1.0", true);
        assertEquals("step 2/2 loss 1.0" + System.lineSeparator(), log.toString());
    }

    @Test
    void theLauncherDecidesWhetherStderrIsATerminal() {
        String before = System.getProperty("crucible.stderr.terminal");
        try {
            System.setProperty("crucible.stderr.terminal", "true");
            assertTrue(ProgressBar.stderrIsTerminal());
            System.setProperty("crucible.stderr.terminal", "false");
            assertEquals(false, ProgressBar.stderrIsTerminal());
        } finally {
            if (before == null) {
                System.clearProperty("crucible.stderr.terminal");
            } else {
                System.setProperty("crucible.stderr.terminal", before);
            }
        }
    }

    @Test
    void aDisabledBarPrintsNothing() {
        StringWriter text = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "merge", "tensors", false).expect(1, 10);
        bar.add(1, 10);
        assertEquals("", text.toString());
    }

    @Test
    void byteCountsForPeople() {
        assertEquals("0.5 kB", ProgressBar.bytes(500));
        assertEquals("3.1 MB", ProgressBar.bytes(3 << 20));
        assertEquals("2.15 GB", ProgressBar.bytes(2L << 30));
    }
}
