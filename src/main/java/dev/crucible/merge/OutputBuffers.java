package dev.crucible.merge;

import dev.crucible.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * Output storage the executor reuses: one native buffer per worker thread, grown to the largest tensor that
 * thread has merged. A merged tensor lives there only until its worker has written it to the output file, so
 * merging makes no heap garbage per tensor (no collections, no fresh heap pages to fault in) and the writer
 * hands the bytes to the kernel without another copy.
 */
final class OutputBuffers implements AutoCloseable {
    private static final class Buffer {
        Arena arena;
        MemorySegment segment;
    }

    private final List<Arena> arenas = new ArrayList<>();
    private final ThreadLocal<Buffer> perThread = ThreadLocal.withInitial(Buffer::new);

    /**
     * Storage for the one output tensor of a task on the calling thread; valid until that thread's next lease.
     * A second request within the same task (a method that builds more than one tensor) gets heap storage.
     */
    LongFunction<MemorySegment> lease() {
        Buffer buffer = perThread.get();
        boolean[] used = {false};
        return bytes -> {
            if (used[0]) {
                return Tensor.heapSegment(bytes);
            }
            used[0] = true;
            if (buffer.segment == null || buffer.segment.byteSize() < bytes) {
                Arena arena = Arena.ofShared();
                MemorySegment segment = arena.allocate(Math.max(bytes, 1), 64);
                synchronized (arenas) {
                    if (buffer.arena != null) {
                        arenas.remove(buffer.arena);
                        buffer.arena.close();
                    }
                    arenas.add(arena);
                }
                buffer.arena = arena;
                buffer.segment = segment;
            }
            return buffer.segment.asSlice(0, bytes);
        };
    }

    /** Frees every buffer; call when no task runs any more. */
    @Override
    public void close() {
        synchronized (arenas) {
            arenas.forEach(Arena::close);
            arenas.clear();
        }
    }
}
