package dev.crucible.template;

import java.util.List;
import java.util.Map;

/** A method of a str, list or dict value looked up by attribute ({@code s.strip}). */
record BoundMethod(Object receiver, String name) implements PyCallable {
    @Override
    public Object call(Interp in, List<Object> args, Map<String, Object> kwargs) {
        return Methods.call(in, receiver, name, args, kwargs);
    }
}
