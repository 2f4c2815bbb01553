package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.gguf.GgmlType;
import dev.crucible.gguf.GgufFile;
import dev.crucible.gguf.GgufTensorInfo;
import dev.crucible.gguf.GgufValue;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/** {@code crucible inspect FILE.gguf}: a GGUF file's metadata and tensors, from its header only. */
final class GgufInspect {
    private GgufInspect() {
    }

    static void print(Path path, boolean tensors, boolean json, PrintWriter out) {
        try (GgufFile f = GgufFile.open(path)) {
            Map<GgmlType, long[]> byType = new EnumMap<>(GgmlType.class);
            long params = 0;
            for (GgufTensorInfo t : f.tensors().values()) {
                long[] c = byType.computeIfAbsent(t.type(), k -> new long[3]);
                c[0]++;
                c[1] += t.elements();
                c[2] += t.bytes();
                params += t.elements();
            }
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                o.put("path", path.toString());
                o.put("version", f.version());
                o.put("file_bytes", f.fileSize());
                o.put("parameters", params);
                ObjectNode meta = o.putObject("metadata");
                f.metadata().entries().forEach((k, v) -> meta.put(k, v.describe(8)));
                ObjectNode types = o.putObject("types");
                byType.forEach((t, c) -> types.putObject(t.name()).put("tensors", c[0]).put("parameters", c[1])
                        .put("bytes", c[2]));
                if (tensors) {
                    ArrayNode a = o.putArray("tensors");
                    for (GgufTensorInfo t : f.tensors().values()) {
                        ObjectNode n = a.addObject().put("name", t.name()).put("type", t.type().name())
                                .put("offset", t.offset());
                        ArrayNode dims = n.putArray("dims");
                        for (long d : t.dims()) {
                            dims.add(d);
                        }
                    }
                }
                out.println(o.toPrettyString());
                return;
            }
            out.printf(Locale.ROOT, "%s: GGUF v%d, %d tensors, %,d parameters, %.1f MiB%n", path, f.version(),
                    f.tensors().size(), params, f.fileSize() / 1048576.0);
            out.println("metadata:");
            for (Map.Entry<String, GgufValue> e : f.metadata().entries().entrySet()) {
                out.printf(Locale.ROOT, "  %-44s %s%n", e.getKey(), e.getValue().describe(6));
            }
            out.println("tensor types:");
            byType.forEach((t, c) -> out.printf(Locale.ROOT, "  %-8s %5d tensors %,15d parameters %10.1f MiB%n",
                    t.name(), c[0], c[1], c[2] / 1048576.0));
            if (tensors) {
                out.println("tensors:");
                for (GgufTensorInfo t : f.tensors().values()) {
                    out.printf(Locale.ROOT, "  %-40s %-6s %s%n", t.name(), t.type().name(), t.shapeString());
                }
            }
        }
    }
}
