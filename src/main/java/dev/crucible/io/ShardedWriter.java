package dev.crucible.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes a checkpoint whose tensors are declared up front and whose data arrives in any order, from any
 * thread. Declaring first lets every shard's header and every tensor's offset be fixed before any data
 * exists, so each tensor is written straight to its final place as soon as it is computed and nothing is
 * held back in memory. Shards split at a byte limit with Hugging Face's names and index.
 */
public final class ShardedWriter implements AutoCloseable {
    private record Slot(FileChannel channel, Path file, long dataStart, TensorInfo info, AtomicLong written) {
    }

    private static final long WRITE_CHUNK = 16L << 20;

    private final Path directory;
    private final List<FileChannel> channels = new ArrayList<>();
    private final List<Path> files = new ArrayList<>();
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final long totalSize;

    /**
     * @param directory     where the shards go (normally a {@link StagedDirectory}'s path)
     * @param specs         every tensor that will be written, in file order
     * @param maxShardBytes a shard is closed before the tensor that would take it past this size
     * @param metadata      the {@code __metadata__} of every shard ({@code format: pt} is what transformers expects)
     */
    public ShardedWriter(Path directory, List<TensorSpec> specs, long maxShardBytes, Map<String, String> metadata) {
        this.directory = directory;
        List<List<TensorSpec>> shards = split(specs, maxShardBytes);
        long total = 0;
        try {
            for (int s = 0; s < shards.size(); s++) {
                String fileName = shards.size() == 1 ? Checkpoint.SINGLE_FILE
                        : String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
                total += openShard(directory.resolve(fileName), shards.get(s), metadata);
            }
        } catch (IOException e) {
            close();
            throw new CrucibleException(directory + ": cannot write shards: " + e.getMessage(), e);
        }
        this.totalSize = total;
    }

    private static List<List<TensorSpec>> split(List<TensorSpec> specs, long maxShardBytes) {
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long size = 0;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (TensorSpec t : specs) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' declared twice");
            }
            if (!current.isEmpty() && size + t.byteSize() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.byteSize();
        }
        shards.add(current);
        return shards;
    }

    private long openShard(Path file, List<TensorSpec> specs, Map<String, String> metadata) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        List<TensorInfo> infos = new ArrayList<>();
        for (TensorSpec t : specs) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            ArrayNode off = e.putArray("data_offsets");
            off.add(offset).add(offset + t.byteSize());
            infos.add(new TensorInfo(t.name(), t.dtype(), t.shape(), offset, offset + t.byteSize()));
            offset += t.byteSize();
        }
        byte[] headerBytes = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (headerBytes.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(headerBytes);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.READ);
        channels.add(ch);
        files.add(file);
        writeFully(ch, head, 0);
        long dataStart = 8L + padded;
        if (offset > 0) {
            // Size the file now so positional writes can land anywhere; unwritten regions are sparse zeros.
            writeFully(ch, ByteBuffer.allocate(1), dataStart + offset - 1);
        }
        for (TensorInfo info : infos) {
            slots.put(info.name(), new Slot(ch, file, dataStart, info, new AtomicLong()));
        }
        return offset;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
    }

    /** Writes a whole declared tensor; dtype and shape must match the declaration. Thread-safe. */
    public void write(String name, Tensor tensor) {
        Slot slot = slot(name);
        if (slot.info.dtype() != tensor.dtype() || !Arrays.equals(slot.info.shape(), tensor.shape())) {
            throw new IllegalArgumentException("tensor '" + name + "' declared as " + slot.info.dtype()
                    + Shape.toString(slot.info.shape()) + " but written as " + tensor);
        }
        writeBytes(name, 0, tensor.data());
    }

    /** Writes part of a declared tensor's bytes, starting {@code byteOffset} into it. Thread-safe. */
    public void writeBytes(String name, long byteOffset, MemorySegment bytes) {
        Slot slot = slot(name);
        if (byteOffset < 0 || byteOffset + bytes.byteSize() > slot.info.byteSize()) {
            throw new IllegalArgumentException("write of " + bytes.byteSize() + " bytes at " + byteOffset
                    + " falls outside tensor '" + name + "' (" + slot.info.byteSize() + " bytes)");
        }
        try {
            // In chunks: a ByteBuffer holds at most 2 GiB. Only native and byte[] segments have a ByteBuffer
            // view; others (float[], long[] from Tensor.fromFloats) go through a byte[] copy of the chunk.
            boolean viewable = bytes.isNative() || bytes.heapBase().orElse(null) instanceof byte[];
            byte[] copy = viewable ? null : new byte[(int) Math.min(WRITE_CHUNK, bytes.byteSize())];
            long pos = slot.dataStart + slot.info.begin() + byteOffset;
            for (long done = 0; done < bytes.byteSize(); done += WRITE_CHUNK) {
                int n = (int) Math.min(WRITE_CHUNK, bytes.byteSize() - done);
                ByteBuffer buf;
                if (viewable) {
                    buf = bytes.asSlice(done, n).asByteBuffer();
                } else {
                    MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, done, copy, 0, n);
                    buf = ByteBuffer.wrap(copy, 0, n);
                }
                writeFully(slot.channel, buf, pos + done);
            }
        } catch (IOException e) {
            throw new CrucibleException(slot.file + ": write failed: " + e.getMessage(), e);
        }
        slot.written.addAndGet(bytes.byteSize());
    }

    private Slot slot(String name) {
        Slot slot = slots.get(name);
        if (slot == null) {
            throw new IllegalArgumentException("tensor '" + name + "' was not declared to this writer");
        }
        return slot;
    }

    /** Checks every tensor was written in full, forces the data to disk and writes the index when sharded. */
    public List<Path> finish() {
        return finish(true);
    }

    /**
     * Checks every tensor was written in full, forces the data to disk when {@code force} and writes the index when
     * sharded. Without {@code force} the data reaches the disk when the kernel writes it back (as with mergekit's
     * and Hugging Face's writers): a crash soon after can lose it even though the files look complete.
     */
    public List<Path> finish(boolean force) {
        for (Slot s : slots.values()) {
            if (s.written.get() != s.info.byteSize()) {
                throw new IllegalStateException("tensor '" + s.info.name() + "' got " + s.written.get() + " of "
                        + s.info.byteSize() + " bytes");
            }
        }
        try {
            if (force) {
                for (FileChannel ch : channels) {
                    ch.force(false);
                }
            }
            if (files.size() > 1) {
                writeIndex();
            }
        } catch (IOException e) {
            throw new CrucibleException(directory + ": cannot finish writing: " + e.getMessage(), e);
        } finally {
            close();
        }
        return List.copyOf(files);
    }

    private void writeIndex() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.putObject("metadata").put("total_size", totalSize);
        ObjectNode map = root.putObject("weight_map");
        slots.keySet().stream().sorted().forEach(n -> map.put(n, slots.get(n).file.getFileName().toString()));
        Files.writeString(directory.resolve(Checkpoint.INDEX_FILE),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    @Override
    public void close() {
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing after a failure; the staging directory is discarded anyway
            }
        }
        channels.clear();
    }
}
