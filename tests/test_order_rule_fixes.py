"""The fixes FRZ205 and FRZ110 propose are valid code that removes the finding (applied here by hand: the edits of the
JSON output, as an editor or a future `--fix` would)."""

from __future__ import annotations

import ast

from conftest import FIXTURES, run_json


def apply(text: str, edits: list[dict]) -> str:
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def index(location: dict) -> int:
        return offsets[location["row"] - 1] + location["column"] - 1

    for edit in sorted(edits, key=lambda e: index(e["location"]), reverse=True):
        start, end = index(edit["location"]), index(edit["end_location"])
        text = text[:start] + edit["content"] + text[end:]
    return text


def fixed(path, code: str, tmp_path) -> tuple[str, list[dict]]:
    (finding,) = [f for f in run_json(str(path)) if f["code"] == code]
    new_text = apply(path.read_text(), finding["fix"]["edits"])
    ast.parse(new_text)
    target = tmp_path / path.name
    target.write_text(new_text)
    return new_text, [f for f in run_json(str(target)) if f["code"] == code]


def test_frz205_fix_makes_the_parameters_a_list(tmp_path):
    text, remaining = fixed(FIXTURES / "FRZ205" / "counted_then_optimizer.py", "FRZ205", tmp_path)
    assert "params = list(filter(lambda p: p.requires_grad, model.parameters()))" in text and remaining == []
    text, remaining = fixed(FIXTURES / "FRZ205" / "clip_after_optimizer.py", "FRZ205", tmp_path)
    assert "[p for p in model.parameters() if p.requires_grad]" in text and remaining == []


def test_frz110_fix_creates_the_parameter_frozen(tmp_path):
    text, remaining = fixed(FIXTURES / "FRZ110" / "new_parameter_after_freeze.py", "FRZ110", tmp_path)
    assert "nn.Parameter(vectors, requires_grad=False)" in text and remaining == []
