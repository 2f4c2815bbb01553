package dev.crucible.merge;

import dev.crucible.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * Storage the executor reuses: native buffers per worker thread, the i-th request of a task getting that thread's
 * i-th buffer, grown to the largest size requested there. A merged tensor lives there only until its worker has
 * written it to the output file, and a method's scratch (the packed entries of a top-k cut) only while the method
 * runs, so merging makes no heap garbage per tensor and touches no fresh pages once the buffers have grown (on
 * this VM a first touch costs several nanoseconds a byte); the writer hands the bytes to the kernel without
 * another copy.
 */
final class OutputBuffers implements AutoCloseable {
    private static final class Buffer {
        Arena arena;
        MemorySegment segment;
    }

    private final List<Arena> arenas = new ArrayList<>();
    private final ThreadLocal<List<Buffer>> perThread = ThreadLocal.withInitial(ArrayList::new);

    /** Storage for the requests of one task on the calling thread; valid until that thread's next lease. */
    LongFunction<MemorySegment> lease() {
        List<Buffer> buffers = perThread.get();
        int[] requests = {0};
        return bytes -> {
            int i = requests[0]++;
            if (buffers.size() == i) {
                buffers.add(new Buffer());
            }
            Buffer buffer = buffers.get(i);
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
