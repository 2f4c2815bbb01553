package dev.crucible.tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/** {@link Tensor#readFloats} from a {@link FileRegion}: positional reads in blocks, converted from a reused buffer. */
final class FileReads {
    private static final int BLOCK_BYTES = 1 << 18;

    private record Block(ByteBuffer buffer, MemorySegment segment) {
    }

    private static final ThreadLocal<Block> BLOCK = ThreadLocal.withInitial(() -> {
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK_BYTES);
        return new Block(b, MemorySegment.ofBuffer(b));
    });

    private FileReads() {
    }

    /** Whether {@link #readFloats} handles {@code dtype}. */
    static boolean supports(DType dtype) {
        return dtype == DType.BF16 || dtype == DType.F32 || dtype == DType.F16;
    }

    /**
     * Converts elements {@code from..from+count} read from {@code file} into {@code dst}; false when a read fails
     * (e.g. the channel was closed by an interrupt), and the caller reads the mapping instead.
     */
    static boolean readFloats(DType dtype, FileRegion file, long from, float[] dst, int off, int count) {
        Block block = BLOCK.get();
        ByteBuffer buf = block.buffer();
        int es = dtype.byteSize();
        int perBlock = BLOCK_BYTES / es;
        try {
            for (int done = 0; done < count; done += perBlock) {
                int n = Math.min(perBlock, count - done);
                buf.clear().limit(n * es);
                long pos = file.position() + (from + done) * es;
                while (buf.hasRemaining()) {
                    if (file.channel().read(buf, pos + buf.position()) < 0) {
                        return false;
                    }
                }
                FloatConversion.toFloats(dtype, block.segment(), 0, dst, off + done, n);
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
