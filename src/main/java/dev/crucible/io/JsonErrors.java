package dev.crucible.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;

import java.io.IOException;

/** One-line descriptions of JSON read failures (Jackson's own messages span lines and quote the source). */
final class JsonErrors {
    private JsonErrors() {
    }

    static String describe(IOException e) {
        if (e instanceof JsonProcessingException j) {
            JsonLocation at = j.getLocation();
            String where = at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
            return j.getOriginalMessage().replace('\n', ' ') + where;
        }
        return String.valueOf(e.getMessage()).replace('\n', ' ');
    }
}
