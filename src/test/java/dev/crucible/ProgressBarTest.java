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
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "merge", "tensors", true).expect(3, 3 << 20);
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
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "perplexity", "tokens", true);
        bar.update(0, 10, 0, 0);
        assertTrue(text.toString().startsWith("\rperplexity [..............................] 0/10 tokens  0.0 tokens/s"),
                text.toString());
        bar.update(10, 10, 0, 0);
        assertTrue(text.toString().contains("10/10 tokens"), text.toString());
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
