package dev.crucible.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.FileRegion;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file. The header is validated strictly when the file is opened; tensor data
 * is only touched when a tensor is read, as a slice of the mapping (no copy).
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation refuses headers over 100 MB; so do we. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    /** Opened by the first {@link #region} call, for positional reads; closed with the file. */
    private FileChannel reader;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, long dataStart, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new CrucibleException(path + ": safetensors file not found");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw problem(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
                throw problem(path, "header length " + Long.toUnsignedString(headerLen)
                        + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            }
            if (8 + headerLen > size) {
                throw problem(path, "header length " + headerLen + " runs past the end of the file ("
                        + size + " bytes)");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder().decode(headerBuf.flip()).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw problem(path, "header is not valid UTF-8");
            }
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, header, metadata);
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            validateLayout(path, tensors.values(), dataLen);
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new SafetensorsFile(path, arena, mapped.asSlice(dataStart, dataLen), dataStart, tensors,
                    Collections.unmodifiableMap(metadata));
        } catch (CrucibleException e) {
            arena.close();
            throw e;
        } catch (IOException e) {
            arena.close();
            throw new CrucibleException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static CrucibleException problem(Path path, String what) {
        return new CrucibleException(path + ": invalid safetensors file: " + what);
    }

    private static Map<String, TensorInfo> parseHeader(Path path, String header, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            if (msg != null && msg.startsWith("Duplicate field")) {
                throw problem(path, "header has a duplicate entry: " + msg);
            }
            throw problem(path, "header is not valid JSON: " + msg);
        }
        if (root == null || !root.isObject()) {
            throw problem(path, "header must be a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw problem(path, "__metadata__ must be an object of strings");
                }
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) {
                        throw problem(path, "__metadata__ value of '" + kv.getKey() + "' must be a string, found "
                                + kv.getValue().getNodeType().toString().toLowerCase());
                    }
                    metadata.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            tensors.put(name, parseEntry(path, name, v));
        }
        return tensors;
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode v) {
        String where = "tensor '" + name + "'";
        if (!v.isObject()) {
            throw problem(path, where + " must be an object with dtype, shape and data_offsets");
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw problem(path, where + " has no dtype string");
        }
        DType dtype = DType.fromSafetensorsNameOrNull(dt.asText());
        if (dtype == null) {
            throw problem(path, where + " has unknown dtype '" + dt.asText() + "'");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw problem(path, where + " has no shape array");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
                throw problem(path, where + " has an invalid shape " + sh);
            }
            shape[i] = d.asLong();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong()
                || !off.get(1).canConvertToLong() || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()) {
            throw problem(path, where + " needs data_offsets [begin, end] as two integers");
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw problem(path, where + " has invalid data_offsets [" + begin + ", " + end + "]");
        }
        long expected;
        try {
            expected = Math.multiplyExact(Shape.numel(shape), (long) dtype.byteSize());
        } catch (ArithmeticException ex) {
            throw problem(path, where + " has a shape too large: " + sh);
        }
        if (end - begin != expected) {
            throw problem(path, where + " of " + dtype.safetensorsName() + Shape.toString(shape) + " needs "
                    + expected + " bytes but data_offsets [" + begin + ", " + end + "] span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** The data section must be covered exactly: tensors back to back from 0 to its end, no holes, no overlaps. */
    private static void validateLayout(Path path, java.util.Collection<TensorInfo> infos, long dataLen) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expectedBegin = 0;
        for (TensorInfo t : sorted) {
            if (t.begin() < expectedBegin) {
                throw problem(path, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap the previous tensor, which ends at " + expectedBegin);
            }
            if (t.begin() > expectedBegin) {
                throw problem(path, "tensor '" + t.name() + "' starts at " + t.begin() + " leaving a hole after "
                        + expectedBegin + " (tensors must be contiguous)");
            }
            if (t.end() > dataLen) {
                throw problem(path, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                        + "] run past the end of the data (" + dataLen + " bytes; file truncated?)");
            }
            expectedBegin = t.end();
        }
        if (expectedBegin != dataLen) {
            throw problem(path, "data section is " + dataLen + " bytes but tensors cover " + expectedBegin
                    + " (trailing bytes)");
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor entries in header order. */
    public Map<String, TensorInfo> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new CrucibleException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /** The tensor as a view of the mapped file; valid until this file is closed. */
    public Tensor tensor(String name) {
        TensorInfo t = info(name);
        return new Tensor(t.dtype(), t.shape(), data.asSlice(t.begin(), t.byteSize()));
    }

    /** Where tensor {@code name}'s bytes lie in this file, for positional reads ({@link Tensor#readingFrom}). */
    public synchronized FileRegion region(String name) {
        TensorInfo t = info(name);
        if (reader == null) {
            try {
                reader = FileChannel.open(path, StandardOpenOption.READ);
            } catch (IOException e) {
                throw new CrucibleException(path + ": cannot read: " + e.getMessage(), e);
            }
        }
        return new FileRegion(reader, dataStart + t.begin());
    }

    /** Bytes of tensor data (the file size less the header). */
    public long dataBytes() {
        return data.byteSize();
    }

    @Override
    public synchronized void close() {
        arena.close();
        if (reader != null) {
            try {
                reader.close();
            } catch (IOException ignored) {
                // read-only: nothing is lost
            }
            reader = null;
        }
    }
}
