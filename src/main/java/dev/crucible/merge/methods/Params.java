package dev.crucible.merge.methods;

import dev.crucible.CrucibleException;

import java.util.Map;

/** Typed reads of evaluated parameter values, with errors that name the method, parameter, model and tensor. */
final class Params {
    private Params() {
    }

    static double number(String method, Map<String, Object> params, String key, String where) {
        Object v = params == null ? null : params.get(key);
        if (v == null) {
            throw new CrucibleException("merge method " + method + ": missing required parameter '" + key + "'" + where);
        }
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (Double.isNaN(d)) {
                throw new CrucibleException("merge method " + method + ": parameter '" + key + "' is NaN" + where);
            }
            return d;
        }
        throw new CrucibleException("merge method " + method + ": parameter '" + key + "' must be a number, got '"
                + v + "'" + where);
    }

    static boolean bool(String method, Map<String, Object> params, String key, String where) {
        Object v = params == null ? null : params.get(key);
        if (v == null) {
            throw new CrucibleException("merge method " + method + ": missing required parameter '" + key + "'" + where);
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof Number n && (n.doubleValue() == 0 || n.doubleValue() == 1)) {
            return n.doubleValue() != 0;
        }
        throw new CrucibleException("merge method " + method + ": parameter '" + key + "' must be true or false, got '"
                + v + "'" + where);
    }

    static int integer(String method, Map<String, Object> params, String key, String where) {
        double d = number(method, params, key, where);
        if (d != Math.rint(d)) {
            throw new CrucibleException("merge method " + method + ": parameter '" + key + "' must be an integer, got "
                    + d + where);
        }
        return (int) d;
    }

    static double checkRange(String method, String key, double v, double min, double max, String where) {
        if (!(v >= min && v <= max)) {
            throw new CrucibleException("merge method " + method + ": parameter '" + key + "' must be in [" + min
                    + ", " + max + "], got " + v + where);
        }
        return v;
    }
}
