"""Hypothesis strategies for the reliability tests.

`fixture_programs()`: valid programs built from the fixtures' statements, mutated (names and attributes swapped for
near misses, constants flipped, assignments turned into comparisons, calls left uncalled), reordered, nested (in
`if`, loops, `with`, `try`, functions called or not, methods) and renamed. Generated Python (hypothesmith) holds no
freezing code; these programs hold little else.

`file_styles()`: how a program is written to disk (line endings, BOM, encoding with its coding cookie,
indentation), and `mutated_bytes()`: real files broken the ways files get broken.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import libcst as cst
from hypothesis import assume, strategies as st

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

NAMES = (
    "model", "net", "m", "bert", "backbone", "teacher", "param", "p", "name", "n", "layer", "module", "optimizer",
    "trainer", "encoder", "head", "params", "x", "_",
)
ATTRIBUTES = (
    "requires_grad", "require_grad", "requires_grad_", "requires_grads", "trainable", "stop_gradient", "data",
    "detach", "grad", "weight", "bias", "bert", "encoder", "layer", "embeddings", "classifier", "pooler", "base_model",
    "parameters", "named_parameters", "children", "modules", "named_modules", "state_dict", "freeze", "eval", "train",
    "from_pretrained", "zero_grad", "step", "AdamW", "Trainer",
)
# Compound statements to nest a run of statements in; `{body}` is the run, `{after}` what follows the compound.
NESTINGS = (
    "if flag:\n    {body}",
    "if __name__ == '__main__':\n    {body}",
    "if ready:\n    pass\nelse:\n    {body}",
    "for _epoch in range(3):\n    {body}",
    "while not done:\n    {body}",
    "with torch.no_grad():\n    {body}",
    "try:\n    {body}\nexcept Exception:\n    pass",
    "def helper():\n    {body}\nhelper()",
    "def setup(model):\n    {body}\n    return model\nmodel = setup(model)",
    "def unused():\n    {body}",
    "class Runner:\n    def run(self):\n        {body}\nRunner().run()",
    "class Module(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        {body}",
    "for name, param in model.named_parameters():\n    {body}",
    "async def main():\n    {body}",
)


@lru_cache(maxsize=None)
def fixture_statements() -> tuple[tuple[cst.BaseStatement, ...], ...]:
    """Every fixture's top-level statements (comments such as `# expect:` stay attached: they are just text here)."""
    modules = []
    for path in sorted(FIXTURES.rglob("*.py")):
        modules.append(tuple(cst.parse_module(path.read_text(encoding="utf-8")).body))
    return tuple(modules)


@lru_cache(maxsize=None)
def fixable_fixtures() -> tuple[int, ...]:
    """Indices (into `fixture_statements()`) of the fixtures of rules that offer fixes: drawn more often."""
    paths = sorted(FIXTURES.rglob("*.py"))
    return tuple(index for index, path in enumerate(paths) if path.parent.name.startswith("FRZ1"))


@lru_cache(maxsize=None)
def fixture_files() -> tuple[tuple[str, bytes], ...]:
    """(name, bytes) of every fixture file, notebooks included."""
    files = sorted(FIXTURES.rglob("*.py")) + sorted(FIXTURES.rglob("*.ipynb"))
    return tuple((path.name, path.read_bytes()) for path in files)


class _Collect(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: list[cst.Name] = []
        self.attributes: list[cst.Attribute] = []
        self.constants: list[cst.Name] = []
        self.calls: list[cst.Call] = []

    def visit_Name(self, node: cst.Name) -> None:
        (self.constants if node.value in ("True", "False") else self.names).append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attributes.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str, new: str, keep: frozenset[int]) -> None:
        self.old, self.new, self.keep, self.seen = old, new, keep, 0

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        if original.value != self.old:
            return updated
        self.seen += 1
        return updated if self.seen in self.keep else updated.with_changes(value=self.new)


def _collect(body: list[cst.BaseStatement]) -> _Collect:
    visitor = _Collect()
    cst.Module(body=body).visit(visitor)
    return visitor


def _replace(body: list[cst.BaseStatement], old: cst.CSTNode, new: cst.CSTNode) -> list[cst.BaseStatement]:
    return list(cst.Module(body=body).deep_replace(old, new).body)  # type: ignore[union-attr]


@st.composite
def _reorder(draw, body):
    if len(body) < 2:
        return body
    start = draw(st.integers(0, len(body) - 2))
    end = draw(st.integers(start + 2, min(len(body), start + 6)))
    return body[:start] + list(draw(st.permutations(body[start:end]))) + body[end:]


@st.composite
def _nest(draw, body):
    if not body:
        return body
    start = draw(st.integers(0, len(body) - 1))
    end = draw(st.integers(start + 1, min(len(body), start + 5)))
    template = draw(st.sampled_from(NESTINGS))
    compound = cst.parse_module(template.replace("{body}", "pass") + "\n").body
    marker = _find_pass(compound)
    nested = [cst.Module(body=compound).deep_replace(marker, cst.FlattenSentinel(body[start:end]))]
    return body[:start] + list(nested[0].body) + body[end:]  # type: ignore[union-attr]


def _find_pass(body) -> cst.SimpleStatementLine:
    """The first `pass` statement line of a template (the place of the nested statements)."""
    found: list[cst.SimpleStatementLine] = []

    class Finder(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            if not found and len(node.body) == 1 and isinstance(node.body[0], cst.Pass):
                found.append(node)

    cst.Module(body=body).visit(Finder())
    return found[0]


@st.composite
def _rename(draw, body):
    names = _collect(body).names
    if not names:
        return body
    old = draw(st.sampled_from(sorted({name.value for name in names})))
    new = draw(st.sampled_from(NAMES))
    occurrences = sum(1 for name in names if name.value == old)
    # Usually every occurrence (a consistent rename), sometimes only some (a program with a slip in it).
    keep = frozenset(draw(st.sets(st.integers(1, occurrences), max_size=2))) if draw(st.booleans()) else frozenset()
    return list(cst.Module(body=body).visit(_Rename(old, new, keep)).body)


@st.composite
def _swap_attribute(draw, body):
    attributes = _collect(body).attributes
    if not attributes:
        return body
    node = draw(st.sampled_from(attributes))
    return _replace(body, node, node.with_changes(attr=cst.Name(draw(st.sampled_from(ATTRIBUTES)))))


@st.composite
def _flip_constant(draw, body):
    constants = _collect(body).constants
    if not constants:
        return body
    node = draw(st.sampled_from(constants))
    return _replace(body, node, node.with_changes(value="True" if node.value == "False" else "False"))


@st.composite
def _uncall(draw, body):
    """`x.requires_grad_(False)` -> `x.requires_grad_`: a call left uncalled."""
    calls = _collect(body).calls
    if not calls:
        return body
    node = draw(st.sampled_from(calls))
    return _replace(body, node, node.func)


@st.composite
def _assignment_to_comparison(draw, body):
    """`a.requires_grad = False` -> `a.requires_grad == False`, at any depth."""
    found: list[cst.SimpleStatementLine] = []

    class Finder(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            if len(node.body) == 1 and isinstance(node.body[0], cst.Assign) and len(node.body[0].targets) == 1:
                found.append(node)

    cst.Module(body=body).visit(Finder())
    if not found:
        return body
    line = draw(st.sampled_from(found))
    assign = line.body[0]
    comparison = cst.Comparison(assign.targets[0].target, [cst.ComparisonTarget(cst.Equal(), assign.value)])
    return _replace(body, line, line.with_changes(body=[cst.Expr(comparison)]))


@st.composite
def _drop_or_repeat(draw, body):
    if len(body) < 2:
        return body
    index = draw(st.integers(0, len(body) - 1))
    if draw(st.booleans()):
        return body[:index] + body[index + 1:]
    return body + [body[index]]


MUTATIONS = (_reorder, _nest, _rename, _swap_attribute, _flip_constant, _uncall, _assignment_to_comparison, _drop_or_repeat)


@st.composite
def fixture_programs(draw) -> str:
    """A valid program made of one to three fixtures' statements, changed by up to eight mutations."""
    sources = fixture_statements()
    pool = draw(st.sampled_from([fixable_fixtures(), fixable_fixtures(), tuple(range(len(sources)))]))
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    body = [statement for index in chosen for statement in sources[index]]
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=8)):
        body = draw(mutation(body))
    code = cst.Module(body=body).code
    try:
        compile(code, "program.py", "exec")
    except SyntaxError:  # `import *` nested in a function, `return` moved out of one...
        assume(False)
    return code


@dataclass(frozen=True)
class FileStyle:
    """How a program is written to disk."""

    newline: str  # "\n", "\r\n", "\r", or "mixed" (a random ending per line, drawn once)
    bom: bool
    latin1: bool  # encoded as latin-1, with a coding cookie and a non-ASCII comment
    indent: str  # the program's indentation unit
    mixed_endings: tuple[str, ...] = ()

    def text(self, program: str) -> str:
        if self.indent != "    ":
            module = cst.parse_module(program)
            program = module.with_changes(default_indent=self.indent).code
        if self.latin1:
            program = "# -*- coding: latin-1 -*-\n# café, naïve\n" + program
        lines = program.splitlines(keepends=True)
        if self.newline == "mixed":
            endings = self.mixed_endings or ("\n",)
            lines = [line.rstrip("\n") + endings[i % len(endings)] if line.endswith("\n") else line for i, line in enumerate(lines)]
        elif self.newline != "\n":
            lines = [line.rstrip("\n") + self.newline if line.endswith("\n") else line for line in lines]
        return "".join(lines)

    def encode(self, program: str) -> bytes:
        data = self.text(program).encode("latin-1" if self.latin1 else "utf-8")
        return codecs.BOM_UTF8 + data if self.bom and not self.latin1 else data


def file_styles() -> st.SearchStrategy[FileStyle]:
    return st.builds(
        FileStyle,
        newline=st.sampled_from(["\n", "\r\n", "mixed", "\r"]),
        bom=st.booleans(),
        latin1=st.booleans(),
        indent=st.sampled_from(["    ", "  ", "\t"]),
        mixed_endings=st.lists(st.sampled_from(["\n", "\r\n"]), min_size=1, max_size=5).map(tuple),
    )


@st.composite
def mutated_bytes(draw) -> tuple[str, bytes, str]:
    """(file name, broken bytes, what was done) from a real fixture file."""
    name, data = draw(st.sampled_from(fixture_files()))
    how = draw(st.sampled_from(["truncate", "insert bytes", "indentation", "delete line", "swap lines", "splice"]))
    lines = data.splitlines(keepends=True) or [b""]
    if how == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif how == "insert bytes":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif how == "indentation":
        index = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from([b" ", b"\t", b"   ", b"  \t", b""]))
        lines[index] = change + lines[index].lstrip(b" \t") if draw(st.booleans()) else change + lines[index]
        data = b"".join(lines)
    elif how == "delete line":
        index = draw(st.integers(0, len(lines) - 1))
        data = b"".join(lines[:index] + lines[index + 1:])
    elif how == "swap lines":
        first, second = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[first], lines[second] = lines[second], lines[first]
        data = b"".join(lines)
    else:  # a piece of another file dropped in the middle
        _, other = draw(st.sampled_from(fixture_files()))
        start = draw(st.integers(0, len(other)))
        piece = other[start: start + draw(st.integers(1, 200))]
        at = draw(st.integers(0, len(data)))
        data = data[:at] + piece + data[at:]
    return name, data, how


@st.composite
def notebooks(draw, program: str) -> bytes:
    """`program` as a Jupyter notebook: its statements split into code cells (some with IPython syntax, some with
    outputs) between markdown cells, written in one of the JSON formattings notebooks come in."""
    body = list(cst.parse_module(program).body)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=4))) if len(body) > 1 else []
    pieces = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)])]
    cells: list[dict] = [{"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tuning\n", "Freeze the encoder."]}]
    for index, piece in enumerate(pieces):
        code = cst.Module(body=piece).code.rstrip("\n")
        magic = draw(st.sampled_from(["", "%pip install -q transformers\n", "!nvidia-smi\n", "%%time\n"]))
        source = magic + code
        cell = {"cell_type": "code", "execution_count": index + 1 if draw(st.booleans()) else None, "metadata": {},
                "outputs": [{"name": "stdout", "output_type": "stream", "text": ["done\n"]}] if draw(st.booleans()) else [],
                "source": source.splitlines(keepends=True) if draw(st.booleans()) else source}
        cells.append(cell)
        if draw(st.booleans()):
            cells.append({"cell_type": "markdown", "metadata": {}, "source": "Next step."})
    raw = {"cells": cells, "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4,
           "nbformat_minor": 5}
    indent, ensure_ascii = draw(st.sampled_from([(1, False), (2, True), (4, False)]))
    text = json.dumps(raw, indent=indent, ensure_ascii=ensure_ascii) + "\n"
    return text.replace("\n", "\r\n").encode() if draw(st.booleans()) else text.encode()
