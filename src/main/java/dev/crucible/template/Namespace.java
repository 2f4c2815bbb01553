package dev.crucible.template;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@code namespace(...)}: the one object whose attributes a template may assign. */
final class Namespace {
    final Map<String, Object> attrs = new LinkedHashMap<>();
}
