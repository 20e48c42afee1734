"""CEL parser: the grammar of the CEL language definition, by recursive descent, with macro expansion.

    Expr           = ConditionalOr ["?" ConditionalOr ":" Expr]
    ConditionalOr  = [ConditionalOr "||"] ConditionalAnd
    ConditionalAnd = [ConditionalAnd "&&"] Relation
    Relation       = [Relation Relop] Addition          Relop = < <= >= > == != in
    Addition       = [Addition ("+" | "-")] Multiplication
    Multiplication = [Multiplication ("*" | "/" | "%")] Unary
    Unary          = Member | "!" {"!"} Member | "-" {"-"} Member
    Member         = Primary | Member "." SELECTOR ["(" [ExprList] ")"] | Member "[" Expr "]"
    Primary        = ["."] IDENT ["(" [ExprList] ")"] | "(" Expr ")" | "[" [ExprList] [","] "]"
                   | "{" [MapInits] [","] "}" | LITERAL

Message construction (`pkg.Type{field: …}`) is recognised and refused: there are no protobuf types here.
"""

from __future__ import annotations

from collections.abc import Callable

from mendflow.rules import ast
from mendflow.rules.lexer import RESERVED, SyntaxProblem, Token, tokenize
from mendflow.rules.values import INT_MAX

_RELATIONS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in"})
_MAX_DEPTH = 64
"""Nesting limit of parenthesised/sub-expressions (CEL asks implementations for at least 12 to 32)."""


def parse(source: str) -> ast.Expr:
    """The expression tree of `source`; SyntaxProblem(message, offset) if it is not valid CEL."""
    parser = _Parser(source, tokenize(source))
    node = parser.expr()
    token = parser.peek()
    if token.kind != "eof":
        raise parser.unexpected(token)
    return node


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    # Token plumbing

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "eof":
            self.position += 1
        return token

    def at(self, kind: str) -> bool:
        token = self.peek()
        return token.kind == kind or (token.kind == "ident" and kind == "in" and token.value == "in")

    def expect(self, kind: str) -> Token:
        if not self.at(kind):
            raise self.unexpected(self.peek())
        return self.take()

    def unexpected(self, token: Token) -> SyntaxProblem:
        if token.kind == "eof":
            return SyntaxProblem("CEL syntax error: the expression ends too early", len(self.source.rstrip()))
        text = self.source[token.offset : token.end]
        return SyntaxProblem(f"CEL syntax error: unexpected {text!r}", token.offset)

    # Grammar

    def expr(self) -> ast.Expr:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise SyntaxProblem("CEL syntax error: the expression is nested too deeply", self.peek().offset)
        condition = self.logical("||", self.conditional_and)
        if self.at("?"):
            offset = self.take().offset
            then = self.logical("||", self.conditional_and)
            self.expect(":")
            otherwise = self.expr()
            condition = ast.Conditional(condition, then, otherwise, offset)
        self.depth -= 1
        return condition

    def conditional_and(self) -> ast.Expr:
        return self.logical("&&", self.relation)

    def logical(self, op: str, operand: Callable[[], ast.Expr]) -> ast.Expr:
        first = operand()
        if not self.at(op):
            return first
        offset = self.peek().offset
        operands = [first]
        while self.at(op):
            self.take()
            operands.append(operand())
        return ast.Logical(op, tuple(operands), offset)

    def relation(self) -> ast.Expr:
        node = self.addition()
        while (token := self.peek()).kind in _RELATIONS or (token.kind == "ident" and token.value == "in"):
            self.take()
            node = ast.Binary("in" if token.kind == "ident" else token.kind, node, self.addition(), token.offset)
        return node

    def addition(self) -> ast.Expr:
        node = self.multiplication()
        while (token := self.peek()).kind in ("+", "-"):
            self.take()
            node = ast.Binary(token.kind, node, self.multiplication(), token.offset)
        return node

    def multiplication(self) -> ast.Expr:
        node = self.unary()
        while (token := self.peek()).kind in ("*", "/", "%"):
            self.take()
            node = ast.Binary(token.kind, node, self.unary(), token.offset)
        return node

    def unary(self) -> ast.Expr:
        token = self.peek()
        if token.kind not in ("!", "-"):
            node = self.member()
            self.check_int_range(node, token)
            return node
        signs: list[Token] = []
        while self.peek().kind == token.kind:
            signs.append(self.take())
        number = self.peek()
        node = self.member()
        if token.kind == "-" and number.kind in ("int", "double") and _is_literal_of(node, number):
            # Fold one minus into the literal, so -9223372036854775808 is a valid int.
            node = ast.Literal(-number.value, signs[-1].offset)
            signs.pop()
        self.check_int_range(node, number)
        for sign in reversed(signs):
            node = ast.Unary(sign.kind, node, sign.offset)
        return node

    def check_int_range(self, node: ast.Expr, number: Token) -> None:
        if (
            number.kind == "int"
            and isinstance(node, ast.Literal)
            and node.value.__class__ is int
            and node.value > INT_MAX
        ):
            raise SyntaxProblem("CEL syntax error: int literal out of range", number.offset)

    def member(self) -> ast.Expr:
        node = self.primary()
        while True:
            token = self.peek()
            if token.kind == ".":
                self.take()
                name = self.peek()
                if name.kind != "ident":
                    raise self.unexpected(name)
                self.take()
                if self.at("("):
                    node = self.call(name, node)
                else:
                    node = ast.Select(node, name.value, name.offset)
            elif token.kind == "[":
                self.take()
                index = self.expr()
                self.expect("]")
                node = ast.Index(node, index, token.offset)
            elif token.kind == "{" and _is_qualified_name(node):
                raise SyntaxProblem("CEL syntax error: message construction is not supported", token.offset)
            else:
                return node

    def primary(self) -> ast.Expr:
        token = self.take()
        kind = token.kind
        if kind in ("int", "uint", "double", "string", "bytes"):
            return ast.Literal(token.value, token.offset)
        if kind == ".":
            name = self.take()
            if name.kind != "ident":
                raise self.unexpected(name)
            return self.identifier(name)
        if kind == "ident":
            return self.identifier(token)
        if kind == "(":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "[":
            elements = self.sequence("]")
            return ast.ListLit(tuple(elements), token.offset)
        if kind == "{":
            return self.map_literal(token)
        raise self.unexpected(token)

    def identifier(self, token: Token) -> ast.Expr:
        name = token.value
        if name in ("true", "false"):
            return ast.Literal(name == "true", token.offset)
        if name == "null":
            return ast.Literal(None, token.offset)
        if name == "in" or name in RESERVED:
            if name == "in":
                raise self.unexpected(token)
            raise SyntaxProblem(f"CEL syntax error: {name!r} is a reserved word", token.offset)
        if self.at("("):
            return self.call(token, None)
        return ast.Ident(name, token.offset)

    def sequence(self, close: str) -> list[ast.Expr]:
        """Comma-separated expressions up to `close` (a trailing comma is allowed)."""
        items: list[ast.Expr] = []
        while not self.at(close):
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.expect(close)
        return items

    def map_literal(self, opening: Token) -> ast.Expr:
        entries: list[tuple[ast.Expr, ast.Expr]] = []
        while not self.at("}"):
            key = self.expr()
            self.expect(":")
            entries.append((key, self.expr()))
            if not self.at(","):
                break
            self.take()
        self.expect("}")
        return ast.MapLit(tuple(entries), opening.offset)

    def call(self, name: Token, target: ast.Expr | None) -> ast.Expr:
        opening = self.expect("(")
        args: list[ast.Expr] = []
        while not self.at(")"):
            args.append(self.expr())
            if not self.at(","):
                break
            self.take()
            if self.at(")"):
                raise self.unexpected(self.peek())
        self.expect(")")
        function = name.value
        if target is None and function == "has" and len(args) == 1:
            if not isinstance(args[0], ast.Select):
                raise SyntaxProblem("CEL syntax error: has() needs a field selection, e.g. has(x.field)", opening.end)
            return ast.Has(args[0], name.offset)
        if target is not None and function in ast.MACROS:
            macro = _macro(function, target, args, name.offset)
            if macro is not None:
                return macro
        return ast.Call(function, target, tuple(args), name.offset)


def _macro(name: str, target: ast.Expr, args: list[ast.Expr], offset: int) -> ast.Expr | None:
    arity = (2, 3) if name == "map" else (2,)
    if len(args) not in arity:
        return None
    variable = args[0]
    if not isinstance(variable, ast.Ident):
        raise SyntaxProblem(f"CEL syntax error: the first argument of {name}() must be a variable name", offset)
    if name == "map":
        predicate = args[1] if len(args) == 3 else None
        return ast.Comprehension(name, target, variable.name, predicate, args[-1], offset)
    return ast.Comprehension(name, target, variable.name, args[1], None, offset)


def _is_literal_of(node: ast.Expr, token: Token) -> bool:
    return isinstance(node, ast.Literal) and node.offset == token.offset and node.value.__class__ in (int, float)


def _is_qualified_name(node: ast.Expr) -> bool:
    while isinstance(node, ast.Select):
        node = node.operand
    return isinstance(node, ast.Ident)
