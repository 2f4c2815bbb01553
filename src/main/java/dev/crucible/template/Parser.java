package dev.crucible.template;

import dev.crucible.template.Token.Type;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Recursive-descent parser with Jinja2's grammar and operator precedence. */
final class Parser {
    private final String src;
    private final List<Token> tokens;
    private int i;

    private Parser(String src, List<Token> tokens) {
        this.src = src;
        this.tokens = tokens;
    }

    static List<Stmt> parse(String normalizedSource, List<Token> tokens) {
        return new Parser(normalizedSource, tokens).subparse(Set.of());
    }

    static TemplateException.Syntax syntaxError(String src, String msg, int pos) {
        int line = 1;
        int lineStart = 0;
        for (int k = 0; k < pos && k < src.length(); k++) {
            if (src.charAt(k) == '\n') {
                line++;
                lineStart = k + 1;
            }
        }
        return new TemplateException.Syntax(msg, line, pos - lineStart + 1);
    }

    private TemplateException.Syntax error(String msg, Token at) {
        return syntaxError(src, msg, at.pos());
    }

    private Token cur() {
        return tokens.get(i);
    }

    private Token peek(int k) {
        return tokens.get(Math.min(i + k, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(i);
        if (t.type() != Type.EOF) {
            i++;
        }
        return t;
    }

    private static String describe(Token t) {
        return switch (t.type()) {
            case EOF -> "end of template";
            case BLOCK_END -> "end of statement block";
            case VAR_END -> "end of print statement";
            case NAME, OP -> "'" + t.value() + "'";
            case STRING -> "string";
            case INT, FLOAT -> "number";
            default -> t.type().name().toLowerCase();
        };
    }

    private Token expectOp(String op) {
        if (!cur().isOp(op)) {
            throw error("expected '" + op + "', got " + describe(cur()), cur());
        }
        return next();
    }

    private String expectName() {
        if (cur().type() != Type.NAME) {
            throw error("expected name, got " + describe(cur()), cur());
        }
        return next().value();
    }

    private void expectBlockEnd() {
        if (cur().type() != Type.BLOCK_END) {
            throw error("expected end of statement block, got " + describe(cur()), cur());
        }
        next();
    }

    private boolean skipName(String name) {
        if (cur().isName(name)) {
            next();
            return true;
        }
        return false;
    }

    private boolean skipOp(String op) {
        if (cur().isOp(op)) {
            next();
            return true;
        }
        return false;
    }

    // ---- statements ----

    /** Parses until a block tag whose name is in {@code endTags}; leaves the stream on that name. */
    private List<Stmt> subparse(Set<String> endTags) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Token t = cur();
            switch (t.type()) {
                case DATA -> {
                    next();
                    body.add(new Stmt.Data(t.pos(), t.value()));
                }
                case VAR_BEGIN -> {
                    next();
                    Expr e = parseTuple(false, true, Set.of(), false);
                    if (cur().type() != Type.VAR_END) {
                        throw error("expected end of print statement, got " + describe(cur()), cur());
                    }
                    next();
                    body.add(new Stmt.Emit(t.pos(), e));
                }
                case BLOCK_BEGIN -> {
                    next();
                    Token name = cur();
                    if (name.type() == Type.NAME && endTags.contains(name.value())) {
                        return body;
                    }
                    body.add(parseStatement(endTags));
                }
                case EOF -> {
                    if (!endTags.isEmpty()) {
                        throw error("unexpected end of template; Jinja was looking for the following tags: "
                                + String.join(" or ", endTags.stream().sorted().map(s -> "'" + s + "'").toList()), t);
                    }
                    return body;
                }
                default -> throw error("unexpected " + describe(t), t);
            }
        }
    }

    private Stmt parseStatement(Set<String> outerEnds) {
        Token t = cur();
        if (t.type() != Type.NAME) {
            throw error("tag name expected", t);
        }
        next();
        return switch (t.value()) {
            case "for" -> parseFor(t);
            case "if" -> parseIf(t);
            case "set" -> parseSet(t);
            case "macro" -> parseMacro(t);
            case "call" -> parseCallBlock(t);
            case "filter" -> parseFilterBlock(t);
            case "with" -> parseWith(t);
            case "generation" -> {
                expectBlockEnd();
                List<Stmt> body = subparse(Set.of("endgeneration"));
                endTag();
                yield new Stmt.Generation(t.pos(), body);
            }
            case "break" -> {
                expectBlockEnd();
                yield new Stmt.Break(t.pos());
            }
            case "continue" -> {
                expectBlockEnd();
                yield new Stmt.Continue(t.pos());
            }
            default -> {
                String msg = "Encountered unknown tag '" + t.value() + "'.";
                if (!outerEnds.isEmpty()) {
                    msg += " Jinja was looking for the following tags: " + String.join(" or ",
                            outerEnds.stream().sorted().map(s -> "'" + s + "'").toList()) + ".";
                }
                throw error(msg, t);
            }
        };
    }

    /** Consumes the end tag name the subparse stopped on, and the block end. */
    private String endTag() {
        String name = next().value();
        expectBlockEnd();
        return name;
    }

    private Stmt parseFor(Token t) {
        Stmt.Target target = parseAssignTarget(Set.of("in"), false);
        if (!skipName("in")) {
            throw error("expected 'in', got " + describe(cur()), cur());
        }
        Expr iter = parseTuple(false, false, Set.of("recursive"), false);
        Expr filter = null;
        if (skipName("if")) {
            filter = parseExpression(true);
        }
        boolean recursive = skipName("recursive");
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endfor", "else"));
        List<Stmt> otherwise = List.of();
        if (endTag().equals("else")) {
            otherwise = subparse(Set.of("endfor"));
            endTag();
        }
        return new Stmt.For(t.pos(), target, iter, filter, body, otherwise, recursive);
    }

    private Stmt parseIf(Token t) {
        List<Expr> tests = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> otherwise = List.of();
        tests.add(parseTuple(false, false, Set.of(), false));
        expectBlockEnd();
        while (true) {
            bodies.add(subparse(Set.of("elif", "else", "endif")));
            String tag = next().value();
            if (tag.equals("elif")) {
                tests.add(parseTuple(false, false, Set.of(), false));
                expectBlockEnd();
            } else if (tag.equals("else")) {
                expectBlockEnd();
                otherwise = subparse(Set.of("endif"));
                endTag();
                break;
            } else {
                expectBlockEnd();
                break;
            }
        }
        return new Stmt.If(t.pos(), tests, bodies, otherwise);
    }

    private Stmt parseSet(Token t) {
        Stmt.Target target = parseAssignTarget(Set.of(), true);
        if (skipOp("=")) {
            Expr value = parseTuple(false, true, Set.of(), false);
            expectBlockEnd();
            return new Stmt.Set(t.pos(), target, value);
        }
        Expr filter = null;
        if (cur().isOp("|")) {
            filter = parseFilters(null, false);
        }
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endset"));
        endTag();
        return new Stmt.SetBlock(t.pos(), target, filter, body);
    }

    private Stmt parseMacro(Token t) {
        String name = expectName();
        Stmt.Params params = parseParams();
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endmacro"));
        endTag();
        return new Stmt.MacroDef(t.pos(), name, params, body);
    }

    private Stmt.Params parseParams() {
        List<String> names = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expectOp("(");
        while (!cur().isOp(")")) {
            if (!names.isEmpty()) {
                expectOp(",");
                if (cur().isOp(")")) {
                    break;
                }
            }
            names.add(expectName());
            defaults.add(skipOp("=") ? parseExpression(true) : null);
        }
        expectOp(")");
        return new Stmt.Params(names, defaults);
    }

    private Stmt parseCallBlock(Token t) {
        Stmt.Params params = cur().isOp("(") ? parseParams() : Stmt.Params.NONE;
        Token at = cur();
        Expr call = parseExpression(true);
        if (!(call instanceof Expr.Call c)) {
            throw error("expected call", at);
        }
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endcall"));
        endTag();
        return new Stmt.CallBlock(t.pos(), c, params, body);
    }

    private Stmt parseFilterBlock(Token t) {
        Expr filter = parseFilters(null, true);
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endfilter"));
        endTag();
        return new Stmt.FilterBlock(t.pos(), filter, body);
    }

    private Stmt parseWith(Token t) {
        List<Stmt.Target> targets = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (cur().type() != Type.BLOCK_END) {
            if (!targets.isEmpty()) {
                expectOp(",");
            }
            targets.add(parseAssignTarget(Set.of(), false));
            expectOp("=");
            values.add(parseExpression(true));
        }
        expectBlockEnd();
        List<Stmt> body = subparse(Set.of("endwith"));
        endTag();
        return new Stmt.With(t.pos(), targets, values, body);
    }

    private Stmt.Target parseAssignTarget(Set<String> extraEnd, boolean withNamespace) {
        if (withNamespace && cur().type() == Type.NAME && peek(1).isOp(".") && peek(2).type() == Type.NAME) {
            String ns = next().value();
            next();
            return new Stmt.Target(ns, null, next().value());
        }
        List<Stmt.Target> items = new ArrayList<>();
        boolean tuple = false;
        boolean paren = skipOp("(");
        while (true) {
            if (!items.isEmpty()) {
                if (!skipOp(",")) {
                    break;
                }
                tuple = true;
            }
            if (cur().type() != Type.NAME || extraEnd.contains(cur().value())) {
                if (items.isEmpty()) {
                    throw error("can't assign to " + describe(cur()), cur());
                }
                break;
            }
            Token name = next();
            if (Set.of("true", "false", "none", "True", "False", "None").contains(name.value())) {
                throw error("can't assign to const", name);
            }
            items.add(new Stmt.Target(name.value(), null, null));
        }
        if (paren) {
            expectOp(")");
        }
        return tuple || paren && items.size() > 1 ? new Stmt.Target(null, items, null) : items.getFirst();
    }

    // ---- expressions ----

    private Expr parseExpression(boolean withCondExpr) {
        return withCondExpr ? parseCondExpr() : parseOr();
    }

    private Expr parseCondExpr() {
        Expr e = parseOr();
        while (cur().isName("if")) {
            Token t = next();
            Expr test = parseOr();
            Expr otherwise = skipName("else") ? parseCondExpr() : null;
            e = new Expr.CondExpr(t.pos(), test, e, otherwise);
        }
        return e;
    }

    private Expr parseOr() {
        Expr e = parseAnd();
        while (cur().isName("or")) {
            Token t = next();
            e = new Expr.Or(t.pos(), e, parseAnd());
        }
        return e;
    }

    private Expr parseAnd() {
        Expr e = parseNot();
        while (cur().isName("and")) {
            Token t = next();
            e = new Expr.And(t.pos(), e, parseNot());
        }
        return e;
    }

    private Expr parseNot() {
        if (cur().isName("not")) {
            Token t = next();
            return new Expr.Unary(t.pos(), '!', parseNot());
        }
        return parseCompare();
    }

    private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

    private Expr parseCompare() {
        Token start = cur();
        Expr e = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = cur();
            if (t.type() == Type.OP && COMPARE_OPS.contains(t.value())) {
                next();
                ops.add(t.value());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && peek(1).isName("in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? e : new Expr.Compare(start.pos(), e, ops, rest);
    }

    private Expr parseMath1() {
        Expr e = parseConcat();
        while (cur().isOp("+") || cur().isOp("-")) {
            Token t = next();
            e = new Expr.Binary(t.pos(), t.value(), e, parseConcat());
        }
        return e;
    }

    private Expr parseConcat() {
        Token start = cur();
        List<Expr> parts = new ArrayList<>();
        parts.add(parseMath2());
        while (skipOp("~")) {
            parts.add(parseMath2());
        }
        return parts.size() == 1 ? parts.getFirst() : new Expr.Concat(start.pos(), parts);
    }

    private Expr parseMath2() {
        Expr e = parsePow();
        while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
            Token t = next();
            e = new Expr.Binary(t.pos(), t.value(), e, parsePow());
        }
        return e;
    }

    private Expr parsePow() {
        Expr e = parseUnary(true);
        while (cur().isOp("**")) {
            Token t = next();
            e = new Expr.Binary(t.pos(), "**", e, parseUnary(true));
        }
        return e;
    }

    private Expr parseUnary(boolean withFilter) {
        Token t = cur();
        Expr e;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            e = new Expr.Unary(t.pos(), t.value().charAt(0), parseUnary(false));
        } else {
            e = parsePrimary();
        }
        e = parsePostfix(e);
        if (withFilter) {
            e = parseFilterExpr(e);
        }
        return e;
    }

    private Expr parsePrimary() {
        Token t = cur();
        switch (t.type()) {
            case NAME -> {
                next();
                return switch (t.value()) {
                    case "true", "True" -> new Expr.Const(t.pos(), Boolean.TRUE);
                    case "false", "False" -> new Expr.Const(t.pos(), Boolean.FALSE);
                    case "none", "None" -> new Expr.Const(t.pos(), null);
                    default -> new Expr.Name(t.pos(), t.value());
                };
            }
            case STRING -> {
                next();
                StringBuilder sb = new StringBuilder(t.value());
                while (cur().type() == Type.STRING) {
                    sb.append(next().value());
                }
                return new Expr.Const(t.pos(), sb.toString());
            }
            case INT -> {
                next();
                try {
                    return new Expr.Const(t.pos(), Long.parseLong(t.value()));
                } catch (NumberFormatException e) {
                    throw error("integer literal too large", t);
                }
            }
            case FLOAT -> {
                next();
                return new Expr.Const(t.pos(), Double.parseDouble(t.value()));
            }
            case OP -> {
                switch (t.value()) {
                    case "(" -> {
                        next();
                        Expr e = parseTuple(false, true, Set.of(), true);
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        return parseList();
                    }
                    case "{" -> {
                        return parseDict();
                    }
                    default -> { }
                }
            }
            default -> { }
        }
        throw error("unexpected " + describe(t), t);
    }

    /** Jinja's parse_tuple: one expression, or a tuple when commas follow. */
    private Expr parseTuple(boolean simplified, boolean withCondExpr, Set<String> extraEnd, boolean explicitParens) {
        Token start = cur();
        List<Expr> items = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!items.isEmpty()) {
                expectOp(",");
            }
            Token c = cur();
            if (c.type() == Type.VAR_END || c.type() == Type.BLOCK_END || c.isOp(")")
                    || (c.type() == Type.NAME && extraEnd.contains(c.value()))) {
                break;
            }
            items.add(simplified ? parsePrimary() : parseExpression(withCondExpr));
            if (cur().isOp(",")) {
                isTuple = true;
            } else {
                break;
            }
        }
        if (!isTuple) {
            if (!items.isEmpty()) {
                return items.getFirst();
            }
            if (!explicitParens) {
                throw error("expected an expression, got " + describe(cur()), cur());
            }
        }
        return new Expr.ListLit(start.pos(), items, true);
    }

    private Expr parseList() {
        Token t = expectOp("[");
        List<Expr> items = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!items.isEmpty()) {
                expectOp(",");
                if (cur().isOp("]")) {
                    break;
                }
            }
            items.add(parseExpression(true));
        }
        expectOp("]");
        return new Expr.ListLit(t.pos(), items, false);
    }

    private Expr parseDict() {
        Token t = expectOp("{");
        List<Expr> keys = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (!cur().isOp("}")) {
            if (!keys.isEmpty()) {
                expectOp(",");
                if (cur().isOp("}")) {
                    break;
                }
            }
            keys.add(parseExpression(true));
            expectOp(":");
            values.add(parseExpression(true));
        }
        expectOp("}");
        return new Expr.DictLit(t.pos(), keys, values);
    }

    private Expr parsePostfix(Expr e) {
        while (true) {
            Token t = cur();
            if (t.isOp(".") || t.isOp("[")) {
                e = parseSubscript(e);
            } else if (t.isOp("(")) {
                e = new Expr.Call(t.pos(), e, parseCallArgs());
            } else {
                return e;
            }
        }
    }

    private Expr parseFilterExpr(Expr e) {
        while (true) {
            Token t = cur();
            if (t.isOp("|")) {
                e = parseFilters(e, false);
            } else if (t.isName("is")) {
                e = parseTest(e);
            } else if (t.isOp("(")) {
                e = new Expr.Call(t.pos(), e, parseCallArgs());
            } else {
                return e;
            }
        }
    }

    private Expr parseSubscript(Expr e) {
        Token t = next();
        if (t.isOp(".")) {
            Token a = next();
            if (a.type() == Type.NAME) {
                return new Expr.Getattr(a.pos(), e, a.value());
            }
            if (a.type() == Type.INT) {
                return new Expr.Getitem(a.pos(), e, new Expr.Const(a.pos(), Long.parseLong(a.value())));
            }
            throw error("expected name or number", a);
        }
        List<Expr[]> args = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!args.isEmpty()) {
                expectOp(",");
            }
            args.add(parseSubscribed());
        }
        expectOp("]");
        if (args.size() == 1) {
            Expr[] a = args.getFirst();
            return a.length == 1 ? new Expr.Getitem(t.pos(), e, a[0]) : new Expr.Slice(t.pos(), e, a[0], a[1], a[2]);
        }
        List<Expr> items = new ArrayList<>();
        for (Expr[] a : args) {
            if (a.length != 1) {
                throw error("slices inside tuple subscripts are not supported", t);
            }
            items.add(a[0]);
        }
        return new Expr.Getitem(t.pos(), e, new Expr.ListLit(t.pos(), items, true));
    }

    /** One subscript: an index ({length 1}) or a slice {start, stop, step} with nulls for omitted parts. */
    private Expr[] parseSubscribed() {
        Expr start = null;
        if (!cur().isOp(":")) {
            Expr e = parseExpression(true);
            if (!cur().isOp(":")) {
                return new Expr[] {e};
            }
            start = e;
        }
        next();
        Expr stop = null;
        Expr step = null;
        if (!cur().isOp("]") && !cur().isOp(",") && !cur().isOp(":")) {
            stop = parseExpression(true);
        }
        if (skipOp(":")) {
            if (!cur().isOp("]") && !cur().isOp(",")) {
                step = parseExpression(true);
            }
        }
        return new Expr[] {start, stop, step};
    }

    private Expr.Args parseCallArgs() {
        expectOp("(");
        List<Expr> positional = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<Expr> keywords = new ArrayList<>();
        Expr star = null;
        Expr starStar = null;
        boolean first = true;
        while (!cur().isOp(")")) {
            if (!first) {
                expectOp(",");
                if (cur().isOp(")")) {
                    break;
                }
            }
            first = false;
            if (skipOp("*")) {
                star = parseExpression(true);
            } else if (skipOp("**")) {
                starStar = parseExpression(true);
            } else if (cur().type() == Type.NAME && peek(1).isOp("=")) {
                names.add(next().value());
                next();
                keywords.add(parseExpression(true));
            } else {
                if (!names.isEmpty()) {
                    throw error("positional argument follows keyword argument", cur());
                }
                positional.add(parseExpression(true));
            }
        }
        expectOp(")");
        if (positional.isEmpty() && names.isEmpty() && star == null && starStar == null) {
            return Expr.Args.NONE;
        }
        return new Expr.Args(positional, names, keywords, star, starStar);
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expectName());
        while (cur().isOp(".") && peek(1).type() == Type.NAME) {
            next();
            name.append('.').append(next().value());
        }
        return name.toString();
    }

    /** {@code | f | g(args)}; with {@code value == null} the filters apply to a filter block's body. */
    private Expr parseFilters(Expr value, boolean startInline) {
        Expr e = value;
        while (startInline || cur().isOp("|")) {
            Token t = startInline ? cur() : next();
            startInline = false;
            String name = dottedName();
            Expr.Args args = cur().isOp("(") ? parseCallArgs() : Expr.Args.NONE;
            e = new Expr.Filter(t.pos(), e, name, args);
        }
        return e;
    }

    private static final Set<Type> TEST_ARG_START = Set.of(Type.NAME, Type.STRING, Type.INT, Type.FLOAT);

    private Expr parseTest(Expr e) {
        Token t = next();
        boolean negate = skipName("not");
        String name = dottedName();
        Expr.Args args = Expr.Args.NONE;
        Token c = cur();
        if (c.isOp("(")) {
            args = parseCallArgs();
        } else if ((TEST_ARG_START.contains(c.type()) || c.isOp("[") || c.isOp("{"))
                && !c.isName("else") && !c.isName("or") && !c.isName("and")) {
            if (c.isName("is")) {
                throw error("You cannot chain multiple tests with is", c);
            }
            Expr arg = parsePostfix(parsePrimary());
            args = new Expr.Args(List.of(arg), List.of(), List.of(), null, null);
        }
        return new Expr.Test(t.pos(), e, name, args, negate);
    }
}
