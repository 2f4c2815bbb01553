package dev.crucible.data;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DatasetReaderTest {
    @TempDir
    Path tmp;

    @Test
    void jsonLinesKeepLineNumbersAndSkipBlankLines() throws Exception {
        Path f = tmp.resolve("a.jsonl");
        Files.writeString(f, "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"n\": 3}\n");
        List<DatasetRow> rows = DatasetReader.read(f);
        assertEquals(2, rows.size());
        assertEquals("one", rows.get(0).fields().get("text"));
        assertEquals(1, rows.get(0).number());
        assertEquals(3, rows.get(1).number());
        assertEquals(f + " line 3", rows.get(1).where());
        assertEquals(3, rows.get(1).fields().get("n"));
    }

    @Test
    void jsonArrayDataObjectAndJsonLinesInJsonFile() throws Exception {
        Path array = tmp.resolve("array.json");
        Files.writeString(array, "[{\"text\": \"a\"}, {\"text\": \"b\"}]");
        Path data = tmp.resolve("data.json");
        Files.writeString(data, "{\"data\": [{\"text\": \"c\"}, {\"text\": \"d\"}, {\"text\": \"e\"}]}");
        Path lines = tmp.resolve("lines.json");
        Files.writeString(lines, "{\"text\": \"f\"}\n{\"text\": \"g\"}\n");
        assertEquals(List.of("a", "b"), texts(DatasetReader.read(array)));
        assertEquals(List.of("c", "d", "e"), texts(DatasetReader.read(data)));
        assertEquals(List.of("f", "g"), texts(DatasetReader.read(lines)));
        assertEquals(2, DatasetReader.read(data).get(1).number());
    }

    @Test
    void parquetAndCsvThroughDuckDbWithNestedConversations() throws Exception {
        Path parquet = tmp.resolve("chat.parquet");
        Path csv = tmp.resolve("alpaca.csv");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT * FROM (VALUES (1, [{'from': 'human', 'value': 'hi'}, {'from': 'gpt', 'value': 'yo'}]),"
                    + " (2, [{'from': 'human', 'value': 'a'}])) v(id, conversations) ORDER BY id) TO '"
                    + parquet + "' (FORMAT parquet)");
        }
        Files.writeString(csv, "instruction,input,output\nAdd,\"1, 2\",003\nGreet,,Hello\n");
        List<DatasetRow> rows = DatasetReader.read(parquet);
        assertEquals(2, rows.size());
        assertEquals(List.of(Map.of("from", "human", "value", "hi"), Map.of("from", "gpt", "value", "yo")),
                rows.get(0).fields().get("conversations"));
        assertEquals(parquet + " row 2", rows.get(1).where());

        List<DatasetRow> csvRows = DatasetReader.read(csv);
        assertEquals(2, csvRows.size());
        assertEquals("1, 2", csvRows.get(0).fields().get("input"));
        assertEquals("003", csvRows.get(0).fields().get("output"));
        assertEquals(null, csvRows.get(1).fields().get("input"));
    }

    @Test
    void directoryIsReadInNameOrderSkippingOtherFiles() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ds"));
        Files.writeString(dir.resolve("b.jsonl"), "{\"text\": \"second\"}\n");
        Files.writeString(dir.resolve("a.json"), "[{\"text\": \"first\"}]");
        Files.writeString(dir.resolve("README.md"), "not data");
        assertEquals(List.of("first", "second"), texts(DatasetReader.read(dir)));
    }

    @Test
    void errorsNameTheFileAndLine() throws Exception {
        Path f = tmp.resolve("bad.jsonl");
        Files.writeString(f, "{\"text\": \"ok\"}\n{\"text\": \n");
        CrucibleException e = assertThrows(CrucibleException.class, () -> DatasetReader.read(f));
        assertTrue(e.getMessage().startsWith(f + " line 2: not valid JSON"), e.getMessage());

        Path notObject = tmp.resolve("list.jsonl");
        Files.writeString(notObject, "[1, 2]\n");
        e = assertThrows(CrucibleException.class, () -> DatasetReader.read(notObject));
        assertEquals(notObject + " line 1: expected a JSON object, got a list", e.getMessage());

        e = assertThrows(CrucibleException.class, () -> DatasetReader.read(tmp.resolve("missing.jsonl")));
        assertTrue(e.getMessage().contains("dataset file not found"), e.getMessage());

        Path xml = Files.writeString(tmp.resolve("x.xml"), "<hello/>");
        e = assertThrows(CrucibleException.class, () -> DatasetReader.read(xml));
        assertTrue(e.getMessage().contains("unknown dataset file type"), e.getMessage());
    }

    private static List<Object> texts(List<DatasetRow> rows) {
        return rows.stream().map(r -> r.fields().get("text")).toList();
    }
}
