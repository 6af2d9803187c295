"""The error messages of ``serde_json`` for the few endpoints that pass them on (spec §1.5).

Most endpoints answer a bad body with the generic "JSON deserialization failed"; ``POST
/api/dkim`` (and the crypto POST) send the serde message itself as the problem detail, e.g.
"unknown variant `rsa`, expected `Rsa` or `Ed25519` at line 1 column 18".

:func:`deserialize_struct` reads a body the way a ``#[derive(Deserialize)]`` struct with
``String``, ``Option<String>`` and unit-enum fields is read by ``serde_json::from_slice``,
with the same messages and the same (byte-based) line and column numbers. It follows the
parser's structure so that the positions come out where serde_json puts them: "error" points
just after the consumed input, "peek error" one byte further.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

_WS = b" \n\t\r"
_DIGITS = b"0123456789"


class SerdeError(Exception):
    """A serde_json error; ``str()`` is the message the server would send."""

    def __init__(self, message: str, line: int = 0, column: int = 0):
        super().__init__(message)
        self.message = message
        #: 0 while the error has no position yet (a "custom" error from a visitor)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line == 0:
            return self.message
        return f"{self.message} at line {self.line} column {self.column}"


@dataclass(frozen=True)
class Field:
    """One struct field: ``kind`` is "string", "option" (``Option<String>``) or "enum"."""

    name: str
    kind: str = "string"
    #: for enums: the Rust enum name and its unit variants, in declaration order
    enum_name: str = ""
    variants: tuple[str, ...] = ()


def deserialize_struct(data: bytes | None, name: str, fields: list[Field]) -> dict:
    """Parse ``data`` into ``{field: value}`` (missing options are None) or raise SerdeError."""
    parser = _Parser(data or b"")
    value = parser.struct(name, fields)
    if parser.whitespace() is not None:
        raise parser.peek_error("trailing characters")
    return value


def _one_of(names: tuple[str, ...]) -> str:
    quoted = [f"`{n}`" for n in names]
    if not quoted:
        return "no variants"
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def _rust_debug(text: str) -> str:
    """``format!("{:?}", text)`` for the usual characters."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _rust_float(value: float) -> str:
    """Rust prints floats without an exponent and serde adds ".0" to whole numbers."""
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


class _Parser:
    def __init__(self, data: bytes):
        self.data = data
        self.index = 0

    # -- reading ---------------------------------------------------------------
    def peek(self) -> int | None:
        return self.data[self.index] if self.index < len(self.data) else None

    def eat(self) -> None:
        self.index += 1

    def next(self) -> int | None:
        byte = self.peek()
        if byte is not None:
            self.index += 1
        return byte

    def whitespace(self) -> int | None:
        while (byte := self.peek()) is not None and byte in _WS:
            self.index += 1
        return self.peek()

    # -- errors ----------------------------------------------------------------
    def _at(self, message: str, index: int) -> SerdeError:
        start = self.data.rfind(b"\n", 0, index) + 1
        return SerdeError(message, 1 + self.data.count(b"\n", 0, start), index - start)

    def error(self, message: str) -> SerdeError:
        return self._at(message, self.index)

    def peek_error(self, message: str) -> SerdeError:
        return self._at(message, min(len(self.data), self.index + 1))

    def fix(self, err: SerdeError) -> SerdeError:
        if err.line == 0:
            return self.error(err.message)
        return err

    # -- scalars ---------------------------------------------------------------
    def ident(self, rest: bytes) -> None:
        for expected in rest:
            byte = self.next()
            if byte is None:
                raise self.error("EOF while parsing a value")
            if byte != expected:
                raise self.error("expected ident")

    def string(self, *, utf8: bool = True) -> str:
        """The rest of a string whose opening quote was eaten."""
        out = bytearray()
        while True:
            byte = self.peek()
            if byte is None:
                raise self.error("EOF while parsing a string")
            self.eat()
            if byte == 0x22:  # "
                break
            if byte == 0x5C:  # backslash
                self._escape(out)
            elif byte < 0x20:
                raise self.error("control character (\\u0000-\\u001F) found while parsing a string")
            else:
                out.append(byte)
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            if utf8:
                raise self.error("invalid unicode code point") from None
            return out.decode("utf-8", errors="replace")

    def _hex4(self) -> int:
        value = 0
        for _ in range(4):
            byte = self.next()
            if byte is None:
                raise self.error("EOF while parsing a string")
            digit = bytes([byte]).decode("latin-1")
            if digit not in "0123456789abcdefABCDEF":
                raise self.error("invalid escape")
            value = value * 16 + int(digit, 16)
        return value

    def _escape(self, out: bytearray) -> None:
        byte = self.next()
        if byte is None:
            raise self.error("EOF while parsing a string")
        simple = {0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x62: b"\b", 0x66: b"\f", 0x6E: b"\n", 0x72: b"\r", 0x74: b"\t"}
        if byte in simple:
            out += simple[byte]
            return
        if byte != 0x75:  # u
            raise self.error("invalid escape")
        code = self._hex4()
        if 0xDC00 <= code <= 0xDFFF:
            raise self.error("lone leading surrogate in hex escape")
        if 0xD800 <= code <= 0xDBFF:
            if self.next() != 0x5C or self.next() != 0x75:
                raise self.error("unexpected end of hex escape")
            low = self._hex4()
            if not 0xDC00 <= low <= 0xDFFF:
                raise self.error("lone leading surrogate in hex escape")
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        out += chr(code).encode("utf-8")

    def number(self, positive: bool) -> str:
        """Parse a number (sign already eaten) and describe it like ``serde::de::Unexpected``."""
        start = self.index
        first = self.next()
        if first is None:
            raise self.error("EOF while parsing a value")
        if first == 0x30:
            if (self.peek() or 0) in _DIGITS:
                raise self.peek_error("invalid number")
        elif first not in _DIGITS:
            raise self.error("invalid number")
        while (self.peek() or 0) in _DIGITS:
            self.eat()
        is_float = False
        if self.peek() == 0x2E:  # .
            is_float = True
            self.eat()
            if (self.peek() or 0) not in _DIGITS:
                raise self.peek_error("invalid number" if self.peek() is not None else "EOF while parsing a value")
            while (self.peek() or 0) in _DIGITS:
                self.eat()
        if self.peek() in (0x65, 0x45):  # e E
            is_float = True
            self.eat()
            if self.peek() in (0x2B, 0x2D):
                self.eat()
            digit = self.next()
            if digit is None:
                raise self.error("EOF while parsing a value")
            if digit not in _DIGITS:
                raise self.error("invalid number")
            while (self.peek() or 0) in _DIGITS:
                self.eat()
        text = self.data[start : self.index].decode("ascii")
        if not is_float:
            value = int(text)
            if positive and value <= 2**64 - 1:
                return f"integer `{value}`"
            if not positive and value <= 2**63:
                return f"integer `-{value}`"
        number = float(text)
        return f"floating point `{_rust_float(number if positive else -number)}`"

    def invalid_type(self, expected: str) -> SerdeError:
        """``peek_invalid_type``: consume the offending value and describe it."""
        byte = self.peek() or 0
        if byte == ord("n"):
            self.eat()
            self.ident(b"ull")
            unexpected = "null"
        elif byte == ord("t"):
            self.eat()
            self.ident(b"rue")
            unexpected = "boolean `true`"
        elif byte == ord("f"):
            self.eat()
            self.ident(b"alse")
            unexpected = "boolean `false`"
        elif byte == ord("-"):
            self.eat()
            unexpected = self.number(False)
        elif byte in _DIGITS:
            unexpected = self.number(True)
        elif byte == 0x22:
            self.eat()
            unexpected = "string " + _rust_debug(self.string())
        elif byte == ord("["):
            unexpected = "sequence"
        elif byte == ord("{"):
            unexpected = "map"
        else:
            return self.peek_error("expected value")
        return self.fix(SerdeError(f"invalid type: {unexpected}, expected {expected}"))

    def colon(self) -> None:
        byte = self.whitespace()
        if byte == ord(":"):
            self.eat()
        elif byte is None:
            raise self.peek_error("EOF while parsing an object")
        else:
            raise self.peek_error("expected `:`")

    # -- typed values ----------------------------------------------------------
    def str_value(self, expected: str = "a string") -> str:
        byte = self.whitespace()
        if byte is None:
            raise self.peek_error("EOF while parsing a value")
        if byte != 0x22:
            raise self.invalid_type(expected)
        self.eat()
        return self.string()

    def option_value(self) -> str | None:
        if self.whitespace() == ord("n"):
            self.eat()
            self.ident(b"ull")
            return None
        return self.str_value()

    def _variant(self, field: Field) -> str:
        name = self.str_value("variant identifier")
        if name not in field.variants:
            raise self.error(f"unknown variant `{name}`, expected {_one_of(field.variants)}")
        return name

    def enum_value(self, field: Field) -> str:
        byte = self.whitespace()
        if byte == 0x22:
            return self._variant(field)
        if byte == ord("{"):
            # {"Variant": null} is the other spelling of a unit variant.
            self.eat()
            name = self._variant(field)
            self.colon()
            after = self.whitespace()
            if after is None:
                raise self.peek_error("EOF while parsing a value")
            if after == ord("n"):
                self.eat()
                self.ident(b"ull")
            else:
                raise self.invalid_type("unit")
            after = self.whitespace()
            if after == ord("}"):
                self.eat()
                return name
            if after is None:
                raise self.error("EOF while parsing an object")
            raise self.error("expected value")
        if byte is None:
            raise self.peek_error("EOF while parsing a value")
        raise self.peek_error("expected value")

    def field_value(self, field: Field):
        if field.kind == "option":
            return self.option_value()
        if field.kind == "enum":
            return self.enum_value(field)
        return self.str_value()

    # -- structs ---------------------------------------------------------------
    def struct(self, name: str, fields: list[Field]) -> dict:
        byte = self.whitespace()
        if byte is None:
            raise self.peek_error("EOF while parsing a value")
        try:
            if byte == ord("["):
                self.eat()
                return self._finish(self._seq, name, fields, self._end_seq)
            if byte == ord("{"):
                self.eat()
                return self._finish(self._map, name, fields, self._end_map)
            raise self.invalid_type(f"struct {name}")
        except SerdeError as err:
            raise self.fix(err) from None

    def _finish(self, visit, name, fields, end) -> dict:
        # serde_json runs the closing check even when the visitor failed; the visitor's
        # error wins, but its position is taken after the closing check.
        try:
            value = visit(name, fields)
        except SerdeError as err:
            try:
                end()
            except SerdeError:
                pass
            raise self.fix(err) from None
        end()
        return value

    def _end_seq(self) -> None:
        byte = self.whitespace()
        if byte == ord("]"):
            self.eat()
        elif byte == ord(","):
            self.eat()
            if self.whitespace() == ord("]"):
                raise self.peek_error("trailing comma")
            raise self.peek_error("trailing characters")
        elif byte is None:
            raise self.peek_error("EOF while parsing a list")
        else:
            raise self.peek_error("trailing characters")

    def _end_map(self) -> None:
        byte = self.whitespace()
        if byte == ord("}"):
            self.eat()
        elif byte == ord(","):
            raise self.peek_error("trailing comma")
        elif byte is None:
            raise self.peek_error("EOF while parsing an object")
        else:
            raise self.peek_error("trailing characters")

    def _seq(self, name: str, fields: list[Field]) -> dict:
        values = {}
        first = True
        for position, field in enumerate(fields):
            byte = self.whitespace()
            if byte == ord("]"):
                raise SerdeError(f"invalid length {position}, expected struct {name} with {len(fields)} elements")
            if byte == ord(",") and not first:
                self.eat()
                byte = self.whitespace()
            elif byte is None:
                raise self.peek_error("EOF while parsing a list")
            elif first:
                first = False
            else:
                raise self.peek_error("expected `,` or `]`")
            if byte == ord("]"):
                raise self.peek_error("trailing comma")
            if byte is None:
                raise self.peek_error("EOF while parsing a value")
            values[field.name] = self.field_value(field)
        return values

    def _map(self, name: str, fields: list[Field]) -> dict:
        by_name = {field.name: field for field in fields}
        values: dict = {}
        first = True
        while True:
            byte = self.whitespace()
            if byte == ord("}"):
                break
            if byte == ord(",") and not first:
                self.eat()
                byte = self.whitespace()
            elif byte is None:
                raise self.peek_error("EOF while parsing an object")
            elif first:
                first = False
            else:
                raise self.peek_error("expected `,` or `}`")
            if byte == ord("}"):
                raise self.peek_error("trailing comma")
            if byte is None:
                raise self.peek_error("EOF while parsing a value")
            if byte != 0x22:
                raise self.peek_error("key must be a string")
            self.eat()
            key = self.string()
            field = by_name.get(key)
            if field is None:
                self.colon()
                self.ignore()
                continue
            if key in values:
                raise SerdeError(f"duplicate field `{key}`")
            self.colon()
            values[key] = self.field_value(field)
        for field in fields:
            if field.name not in values:
                if field.kind != "option":
                    raise SerdeError(f"missing field `{field.name}`")
                values[field.name] = None
        return values

    # -- skipping unknown fields -----------------------------------------------
    def _ignore_number(self) -> None:
        first = self.next() or 0
        if first == 0x30:
            if (self.peek() or 0) in _DIGITS:
                raise self.peek_error("invalid number")
        elif first in _DIGITS:
            while (self.peek() or 0) in _DIGITS:
                self.eat()
        else:
            raise self.error("invalid number")
        if self.peek() == 0x2E:
            self.eat()
            if (self.peek() or 0) not in _DIGITS:
                raise self.peek_error("invalid number")
            while (self.peek() or 0) in _DIGITS:
                self.eat()
        if self.peek() in (0x65, 0x45):
            self.eat()
            if self.peek() in (0x2B, 0x2D):
                self.eat()
            if (self.next() or 0) not in _DIGITS:
                raise self.error("invalid number")
            while (self.peek() or 0) in _DIGITS:
                self.eat()

    def ignore(self) -> None:
        """``ignore_value``: skip one value of any shape (iterative, like serde_json)."""
        stack: list[int] = []
        enclosing: int | None = None
        while True:
            byte = self.whitespace()
            if byte is None:
                raise self.peek_error("EOF while parsing a value")
            frame = None
            if byte in (ord("n"), ord("t"), ord("f")):
                self.eat()
                self.ident({ord("n"): b"ull", ord("t"): b"rue", ord("f"): b"alse"}[byte])
            elif byte == ord("-"):
                self.eat()
                self._ignore_number()
            elif byte in _DIGITS:
                self._ignore_number()
            elif byte == 0x22:
                self.eat()
                self.string(utf8=False)
            elif byte in (ord("["), ord("{")):
                if enclosing is not None:
                    stack.append(enclosing)
                    enclosing = None
                self.eat()
                frame = byte
            else:
                raise self.peek_error("expected value")

            if frame is not None:
                accept_comma, current = False, frame
            elif enclosing is not None:
                accept_comma, current, enclosing = True, enclosing, None
            elif stack:
                accept_comma, current = True, stack.pop()
            else:
                return

            while True:
                after = self.whitespace()
                if after == ord(",") and accept_comma:
                    self.eat()
                    break
                if (after == ord("]") and current == ord("[")) or (after == ord("}") and current == ord("{")):
                    self.eat()
                    if not stack:
                        return
                    current = stack.pop()
                    accept_comma = True
                    continue
                if after is None:
                    raise self.peek_error(
                        "EOF while parsing a list" if current == ord("[") else "EOF while parsing an object"
                    )
                if accept_comma:
                    raise self.peek_error("expected `,` or `]`" if current == ord("[") else "expected `,` or `}`")
                break

            if current == ord("{"):
                key = self.whitespace()
                if key is None:
                    raise self.peek_error("EOF while parsing an object")
                if key != 0x22:
                    raise self.peek_error("key must be a string")
                self.eat()
                self.string(utf8=False)
                self.colon()
            enclosing = current
