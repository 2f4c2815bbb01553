package dev.crucible.gguf;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped GGUF file (version 2 or 3, little-endian). Everything before the tensor data is parsed and
 * checked when the file opens, every length against the bytes that remain, so a truncated or hostile file gets
 * an error naming the file and the problem and nothing is read past its end: counts that could not fit in the
 * file, unknown value or tensor types, strings that are not UTF-8, dimensions that overflow, rows that are not
 * whole blocks, a misaligned offset, tensors that overlap or run past the end. Tensor data is only touched when
 * read, as slices of the mapping.
 */
public final class GgufFile implements AutoCloseable {
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMS = 4;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final GgufMetadata metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, GgufMetadata metadata,
                     Map<String, GgufTensorInfo> tensors, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
    }

    public static boolean isGguf(Path path) {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            return ch.read(b, 0) == 4 && b.getInt(0) == GgufWriter.MAGIC;
        } catch (IOException e) {
            return false;
        }
    }

    public static GgufFile open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new CrucibleException(path + ": GGUF file not found");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = ch.size() == 0 ? MemorySegment.NULL.reinterpret(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return parse(path, arena, seg);
        } catch (IOException e) {
            arena.close();
            throw new CrucibleException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment seg) {
        Cursor c = new Cursor(path, seg);
        long magic = c.u32("magic");
        if (magic != GgufWriter.MAGIC) {
            throw problem(path, "not a GGUF file (magic 0x" + Long.toHexString(magic) + ", expected 0x46554747 \"GGUF\")");
        }
        long version = c.u32("version");
        if (version != 2 && version != 3) {
            throw problem(path, "GGUF version " + version + " is not supported (only 2 and 3)");
        }
        long tensorCount = c.u64("tensor count");
        long kvCount = c.u64("metadata count");
        // each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info 8 + 4 + 4 + 8
        if (Long.compareUnsigned(kvCount, c.remaining() / 13) > 0) {
            throw problem(path, "header claims " + Long.toUnsignedString(kvCount) + " metadata entries, more than "
                    + c.remaining() + " remaining bytes can hold");
        }
        if (Long.compareUnsigned(tensorCount, c.remaining() / 24) > 0) {
            throw problem(path, "header claims " + Long.toUnsignedString(tensorCount) + " tensors, more than "
                    + c.remaining() + " remaining bytes can hold");
        }
        GgufMetadata metadata = new GgufMetadata();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string("metadata key " + i);
            if (metadata.contains(key)) {
                throw problem(path, "duplicate metadata key '" + key + "'");
            }
            long typeId = c.u32("type of " + key);
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) {
                throw problem(path, "metadata '" + key + "' has unknown value type " + typeId);
            }
            metadata.put(key, c.value(type, key));
        }
        GgufValue alignValue = metadata.get(GgufMetadata.ALIGNMENT);
        int alignment = GgufMetadata.DEFAULT_ALIGNMENT;
        if (alignValue != null) {
            if (alignValue.type() != GgufValueType.UINT32 || alignValue.asLong() <= 0
                    || Long.bitCount(alignValue.asLong()) != 1) {
                throw problem(path, GgufMetadata.ALIGNMENT + " must be a u32 power of two, got "
                        + alignValue.describe(1));
            }
            alignment = (int) alignValue.asLong();
        }
        Map<String, GgufTensorInfo> tensors = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = c.string("tensor name " + i);
            if (tensors.containsKey(name)) {
                throw problem(path, "duplicate tensor '" + name + "'");
            }
            long nDims = c.u32("dimension count of " + name);
            if (nDims > MAX_DIMS) {
                throw problem(path, "tensor '" + name + "' has " + nDims + " dimensions (at most " + MAX_DIMS + ")");
            }
            long[] dims = new long[(int) nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = c.u64("dimension " + d + " of " + name);
                if (dims[d] < 0 || (dims[d] != 0 && elements > Long.MAX_VALUE / dims[d])) {
                    throw problem(path, "tensor '" + name + "' has dimensions whose product overflows");
                }
                elements *= dims[d];
            }
            long typeId = c.u32("type of " + name);
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw problem(path, "tensor '" + name + "' has unknown ggml type " + typeId);
            }
            if (nDims > 0 && dims[0] % type.blockSize != 0) {
                throw problem(path, "tensor '" + name + "': row of " + dims[0] + " values is not a whole number of "
                        + type + " blocks of " + type.blockSize);
            }
            long offset = c.u64("offset of " + name);
            if (offset < 0 || offset % alignment != 0) {
                throw problem(path, "tensor '" + name + "' has offset " + Long.toUnsignedString(offset)
                        + ", not a multiple of the alignment " + alignment);
            }
            tensors.put(name, new GgufTensorInfo(name, dims, type, offset));
        }
        long dataStart = GgufWriter.pad(c.position(), alignment);
        long dataBytes = seg.byteSize() - dataStart;
        List<GgufTensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(GgufTensorInfo::offset));
        long end = 0;
        for (GgufTensorInfo t : byOffset) {
            if (t.offset() < end) {
                throw problem(path, "tensor '" + t.name() + "' overlaps the tensor before it");
            }
            long bytes = t.bytes();
            if (bytes < 0 || t.offset() > dataBytes || bytes > dataBytes - t.offset()) {
                throw problem(path, "tensor '" + t.name() + "' (" + bytes + " bytes at data offset " + t.offset()
                        + ") runs past the end of the file (truncated?)");
            }
            end = t.offset() + bytes;
        }
        return new GgufFile(path, arena, seg, (int) version, metadata, Collections.unmodifiableMap(tensors), dataStart);
    }

    static CrucibleException problem(Path path, String message) {
        return new CrucibleException(path + ": " + message);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    public Map<String, GgufTensorInfo> tensors() {
        return tensors;
    }

    public GgufTensorInfo tensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) {
            throw problem(path, "no tensor '" + name + "'");
        }
        return t;
    }

    /** The raw bytes of a tensor, a slice of the mapping. */
    public MemorySegment data(GgufTensorInfo t) {
        return file.asSlice(dataStart + t.offset(), t.bytes());
    }

    /** Bytes before the tensor data: header, metadata and tensor infos, padded. */
    public long dataStart() {
        return dataStart;
    }

    public long fileSize() {
        return file.byteSize();
    }

    /**
     * Native memory that lives as long as this file's mapping: for blocks rearranged from the file. Native like the
     * mapping, never a heap segment: {@code PackedWeight.blocks} views every native segment as the plain native kind,
     * so the block kernels' memory accesses see one kind of segment and C2 compiles them as straight loads (a heap
     * segment among the mapped ones made every q8_0 decode about 3x slower, a native one about 1.8x).
     */
    public MemorySegment allocate(long bytes) {
        return arena.allocate(bytes, 64);
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Bounds-checked reads over the mapping. */
    private static final class Cursor {
        private final Path path;
        private final MemorySegment seg;
        private long pos;

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long position() {
            return pos;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw problem(path, "truncated: " + what + " needs " + Long.toUnsignedString(n) + " bytes at offset "
                        + pos + " but the file has " + remaining() + " left");
            }
        }

        long u32(String what) {
            need(4, what);
            long v = seg.get(U32, pos) & 0xFFFFFFFFL;
            pos += 4;
            return v;
        }

        long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        String string(String what) {
            long len = u64("length of " + what);
            need(len, what);
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw problem(path, what + " is not valid UTF-8");
            }
        }

        Object scalar(GgufValueType type, String what) {
            return switch (type) {
                case UINT8 -> {
                    need(1, what);
                    yield (long) (seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF);
                }
                case INT8 -> {
                    need(1, what);
                    yield (long) seg.get(ValueLayout.JAVA_BYTE, pos++);
                }
                case UINT16, INT16 -> {
                    need(2, what);
                    short s = seg.get(U16, pos);
                    pos += 2;
                    yield type == GgufValueType.UINT16 ? (long) (s & 0xFFFF) : (long) s;
                }
                case UINT32 -> u32(what);
                case INT32 -> (long) (int) u32(what);
                case UINT64, INT64 -> u64(what);
                case FLOAT32 -> Float.intBitsToFloat((int) u32(what));
                case FLOAT64 -> Double.longBitsToDouble(u64(what));
                case BOOL -> {
                    need(1, what);
                    byte b = seg.get(ValueLayout.JAVA_BYTE, pos++);
                    if (b != 0 && b != 1) {
                        throw problem(path, what + " is a bool of value " + b);
                    }
                    yield b == 1;
                }
                case STRING -> string(what);
                case ARRAY -> throw problem(path, what + " is an array of arrays, which GGUF readers do not support");
            };
        }

        GgufValue value(GgufValueType type, String key) {
            if (type != GgufValueType.ARRAY) {
                return new GgufValue(type, null, scalar(type, "value of " + key));
            }
            long elemId = u32("element type of " + key);
            GgufValueType et = GgufValueType.byId(elemId);
            if (et == null || et == GgufValueType.ARRAY) {
                throw problem(path, "metadata '" + key + "' is an array of unsupported type " + elemId);
            }
            long n = u64("length of " + key);
            long minBytes = et == GgufValueType.STRING ? 8 : et.size;
            if (Long.compareUnsigned(n, remaining() / minBytes) > 0 || n > Integer.MAX_VALUE - 8) {
                throw problem(path, "metadata '" + key + "' claims " + Long.toUnsignedString(n)
                        + " elements, more than the " + remaining() + " remaining bytes can hold");
            }
            int count = (int) n;
            Object values = switch (et) {
                case STRING -> {
                    String[] a = new String[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = string(key + "[" + i + "]");
                    }
                    yield a;
                }
                case FLOAT32 -> {
                    float[] a = new float[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Float) scalar(et, key);
                    }
                    yield a;
                }
                case FLOAT64 -> {
                    double[] a = new double[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Double) scalar(et, key);
                    }
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Boolean) scalar(et, key);
                    }
                    yield a;
                }
                default -> {
                    long[] a = new long[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Long) scalar(et, key);
                    }
                    yield a;
                }
            };
            return new GgufValue(GgufValueType.ARRAY, et, values);
        }
    }
}
