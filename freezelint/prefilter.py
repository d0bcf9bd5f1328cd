"""Which rules can fire in a file, decided from its text before anything is parsed.

Each rule declares `tokens` (see `freezelint.rules.Rule`): groups of strings, every group needing one of its strings
in the file's *code*. Code is the text without its comments and without its docstrings (string literals that are a
statement by themselves): nothing in a comment or a docstring becomes a fact, so a token found only there cannot make a
rule fire. Ordinary string literals stay code (rules read option names and parameter-name filters from them).

Two steps, the cheap one first: a rule whose groups are not all in the raw text is out; only then is the text
scanned to drop comments and docstrings, and the groups checked again on what remains. Most files of a real project
stop at the first step; library files, whose docstrings are full of `from_pretrained` examples, at the second.

The scanner is one regular expression over Python's lexical grammar up to 3.11 (`_scan`); from 3.12 on, where
f-strings may nest the quotes that delimit them, the standard tokenizer decides instead (`_scan_tokens`, which
`tests/test_prefilter.py` also uses as the reference the fast scanner must agree with). Whatever either cannot
classify stays code: a doubt costs a parse, never a finding.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from freezelint.rules import Rule

Span = tuple[int, int]

# A comment, or a string literal (triple-quoted first); the quotes are optional at the end so that an unterminated
# string is still one lexeme (and stays code). Within a string a backslash escapes the next character, a line break
# included; that holds for raw strings too, so the prefix does not change where a string ends.
_LEXEME = re.compile(
    r"""\#[^\r\n]*
    |'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?P<q1>''')?
    |\"\"\"[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?P<q2>\"\"\")?
    |'[^'\\\r\n]*(?:\\(?:\r\n|.)[^'\\\r\n]*)*(?P<q3>')?
    |"[^"\\\r\n]*(?:\\(?:\r\n|.)[^"\\\r\n]*)*(?P<q4>")?""",
    re.S | re.X,
)
# What may stand between the start of a line and a docstring: indentation and a prefix that is not an f-string's.
_DOCSTRING_HEAD = re.compile(r"[ \t\f]*(?:[rRuU]|[bB][rR]?|[rR][bB])?")
# What may follow a docstring on its line: nothing but blanks and a comment.
_DOCSTRING_TAIL = re.compile(r"[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n|\Z)")
_OPENING, _CLOSING = "([{", ")]}"


def _scan(text: str) -> Iterator[Span]:
    """The spans of `text` that are comments or docstrings (Python up to 3.11), in order."""
    depth = 0  # bracket depth of the code before the lexeme: inside brackets a string is never a statement
    position = 0
    for match in _LEXEME.finditer(text):
        start, end = match.span()
        before = text[position:start]
        if before:
            depth += sum(before.count(c) for c in _OPENING) - sum(before.count(c) for c in _CLOSING)
        position = end
        if text[start] == "#":
            yield start, end
        elif depth == 0 and match.lastgroup is not None and _is_docstring(text, before, end, at_file_start=start == len(before)):
            yield start - (len(before) - len(before.rstrip("rRbBuU"))), end  # with its prefix


def _is_docstring(text: str, before: str, end: int, at_file_start: bool) -> bool:
    """Whether the terminated string literal ending at `end` is a whole logical line and not an f-string (`before`
    is the code between the previous lexeme and the literal)."""
    newline = max(before.rfind("\n"), before.rfind("\r"))
    if newline < 0 and not at_file_start:
        return False  # something else precedes it on its line
    head = before[newline + 1 :]
    if _DOCSTRING_HEAD.fullmatch(head) is None:
        return False
    if newline >= 0:
        ending = newline - 1 if before[newline] == "\n" and newline > 0 and before[newline - 1] == "\r" else newline
        if ending > 0 and before[ending - 1] == "\\":
            return False  # the previous line continues onto this one: the string is part of an expression
    return _DOCSTRING_TAIL.match(text, end) is not None


def _scan_tokens(text: str) -> list[Span] | None:
    """The same spans, found by the standard tokenizer (exact on every Python version, slower before 3.12); None for
    text it rejects."""
    starts = [0]
    for line in io.StringIO(text, newline=""):
        starts.append(starts[-1] + len(line))

    def offset(row: int, column: int) -> int:
        return starts[row - 1] + column if row - 1 < len(starts) else len(text)

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text, newline="").readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    if any(token.type == tokenize.ERRORTOKEN for token in tokens):
        return None  # an unterminated string or a stray character: Python would not compile it
    spans: list[Span] = []
    skipped = (tokenize.NL, tokenize.COMMENT)
    starting = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    previous: tokenize.TokenInfo | None = None
    for index, token in enumerate(tokens):
        if token.type == tokenize.COMMENT:
            spans.append((offset(*token.start), offset(*token.end)))
        elif token.type == tokenize.STRING and (previous is None or previous.type in starting):
            prefix = token.string[: len(token.string) - len(token.string.lstrip("rRbBuUfF"))]
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.type == tokenize.COMMENT:
                following = tokens[index + 2] if index + 2 < len(tokens) else None
            ends_line = following is None or following.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
            if "f" not in prefix.lower() and ends_line:
                spans.append((offset(*token.start), offset(*token.end)))
        if token.type not in skipped:
            previous = token
    return spans


def ignored_spans(text: str) -> list[Span]:
    """Comments and docstrings of `text`: what the pre-filter does not count as code."""
    if sys.version_info >= (3, 12):
        return _scan_tokens(text) or []  # text the tokenizer rejects stays code
    return list(_scan(text))


def code_of(text: str) -> str:
    """`text` without its comments and docstrings (each replaced by a space)."""
    if "#" not in text and "'" not in text and '"' not in text:
        return text
    parts: list[str] = []
    position = 0
    for start, end in ignored_spans(text):
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    return " ".join(parts)


def token_groups(tokens: tuple) -> tuple[tuple[str, ...], ...]:
    """A rule's `tokens` as groups: a flat tuple of strings is one group."""
    if not tokens:
        return ()
    if all(isinstance(token, str) for token in tokens):
        return (tuple(tokens),)
    return tuple((group,) if isinstance(group, str) else tuple(group) for group in tokens)


def _matches(groups: tuple[tuple[str, ...], ...], text: str) -> bool:
    return all(any(token in text for token in group) for group in groups)


def relevant_rules(text: str, rules: Iterable[Rule], wildcards: Iterable[str] = ()) -> list[Rule]:
    """The rules that can fire in a file with this text: each rule's token groups all found in the code. A rule
    without tokens always can. A `wildcard` found in the code (the name of a project's own freeze helper, which
    freezes without any token) makes every rule possible."""
    rules = list(rules)
    wildcards = tuple(wildcards)
    candidates = [rule for rule in rules if _matches(token_groups(rule.tokens), text)]
    if any(wildcard in text for wildcard in wildcards):
        candidates = rules
    if not candidates or all(not rule.tokens for rule in candidates):
        return candidates
    code = code_of(text)
    if any(wildcard in code for wildcard in wildcards):
        return rules
    return [rule for rule in candidates if _matches(token_groups(rule.tokens), code)]
