package dev.crucible.template;

import java.util.AbstractList;
import java.util.RandomAccess;

/** Python's {@code range}: a lazy arithmetic sequence (prints as {@code range(0, 3)}). */
final class PyRange extends AbstractList<Object> implements RandomAccess {
    private final long start;
    private final long stop;
    private final long step;
    private final int size;

    PyRange(long start, long stop, long step, int size) {
        this.start = start;
        this.stop = stop;
        this.step = step;
        this.size = size;
    }

    @Override
    public Object get(int index) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException(index);
        }
        return start + index * step;
    }

    @Override
    public int size() {
        return size;
    }

    String repr() {
        return "range(" + start + ", " + stop + (step == 1 ? "" : ", " + step) + ")";
    }
}
