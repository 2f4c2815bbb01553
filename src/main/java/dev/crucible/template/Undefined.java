package dev.crucible.template;

/**
 * Jinja2's default {@code Undefined}: prints as empty, iterates as empty, is falsy and has length 0; any
 * other use (attribute or item access, arithmetic, calling) raises. The message is built lazily, as
 * templates probe for missing keys constantly.
 */
final class Undefined {
    static final Undefined PLAIN = new Undefined(null, null, null, null);

    private final Object obj;
    private final Object name;
    private final String hint;
    private final String kind;

    private Undefined(Object obj, Object name, String hint, String kind) {
        this.obj = obj;
        this.name = name;
        this.hint = hint;
        this.kind = kind;
    }

    /** A missing variable {@code name}. */
    static Undefined variable(String name) {
        return new Undefined(Undefined.class, name, null, null);
    }

    /** A missing attribute or item {@code name} of {@code obj}. */
    static Undefined member(Object obj, Object name) {
        return new Undefined(obj, name, null, null);
    }

    static Undefined hint(String hint) {
        return new Undefined(null, null, hint, null);
    }

    /** What the sandbox returns for a forbidden attribute: using it raises SecurityError. */
    static Undefined unsafe(Object obj, String attr) {
        return new Undefined(null, attr, "access to attribute '" + attr + "' of '" + Py.typeName(obj)
                + "' object is unsafe.", "SecurityError");
    }

    String message() {
        if (hint != null) {
            return hint;
        }
        if (obj == Undefined.class) {
            return PyStr.repr(String.valueOf(name)) + " is undefined";
        }
        if (obj == null && name == null) {
            return "undefined value";
        }
        String type = obj == null ? "None" : Py.typeName(obj) + " object";
        if (!(name instanceof String s)) {
            return type + " has no element " + Py.repr(name);
        }
        return PyStr.repr(type) + " has no attribute " + PyStr.repr(s);
    }

    TemplateException fail() {
        return new TemplateException(kind == null ? "UndefinedError" : kind, message());
    }

    @Override
    public String toString() {
        return "";
    }
}
