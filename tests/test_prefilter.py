"""The pre-filter is sound: it never changes what freezelint reports, only how much it parses.

Proven three ways: findings are identical with and without it on every fixture, for every rule alone and all together
(so a rule another engineer adds is covered by its fixtures); the fast comment-and-docstring scanner agrees with
Python's own tokenizer on every kind of source we can find or generate; and the tokens derived from the knowledge
tables are contained in every name those tables accept.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from cli_helpers import FIXTURES, ROOT, run_cli
from freezelint import knowledge, prefilter
from freezelint.config import Settings
from freezelint.linter import lint_bytes, needs_parsing
from freezelint.rules import Rule, all_rules, known_codes, select_rules

FIXTURE_FILES = sorted([*FIXTURES.rglob("*.py"), *FIXTURES.rglob("*.ipynb")])
ON, OFF = Settings(), Settings(prefilter=False)


def _found(path: Path, rules: list[Rule], settings: Settings) -> list[tuple]:
    result = lint_bytes(str(path), path.read_bytes(), rules, settings)
    assert result.error is None, result.error
    return [(f.code, f.start, f.end, f.message) for f in result.findings]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_findings_identical_with_and_without_the_prefilter_for_every_rule(path):
    rules = select_rules()
    unfiltered = _found(path, rules, OFF)
    assert _found(path, rules, ON) == unfiltered
    for rule in rules:  # a rule selected alone narrows the filter to its own tokens
        assert _found(path, [rule], ON) == [f for f in unfiltered if f[0] == rule.code], rule.code


def test_the_cli_reports_the_same_with_and_without_the_prefilter():
    def findings(*flags: str) -> list:
        completed = run_cli(str(FIXTURES), "--output-format", "json", "--no-cache", *flags)
        assert completed.returncode in (0, 1) and not completed.stderr, completed.stderr
        return json.loads(completed.stdout)

    reported = findings()
    assert reported and reported == findings("--no-prefilter")


def test_a_configured_freeze_helper_counts_as_every_token(tmp_path):
    source = (
        "import torch\nfrom myproject.training import lock_backbone\nfrom transformers import AutoModel\n\n"
        "model = AutoModel.from_pretrained('bert-base-uncased')\n"
        "lock_backbone(model)\noptimizer = torch.optim.AdamW(model.parameters())\n"
    )
    path = tmp_path / "train.py"
    path.write_text(source)
    helper = Settings(freeze_helpers=("myproject.training.lock_backbone",))
    rules = select_rules(["FRZ201"])
    with_filter = _found(path, rules, helper)
    assert with_filter == _found(path, rules, dataclasses.replace(helper, prefilter=False))
    assert [code for code, *_ in with_filter] == ["FRZ201"]
    assert not needs_parsing(source, rules)  # without the configuration nothing here freezes


def test_tokens_in_comments_and_docstrings_do_not_count_but_string_literals_do():
    rules = [Rule("FRZ990", "probe", rules_level(), lambda facts: iter(()), "", tokens=("requires_grad",))]
    assert not needs_parsing('"""Set p.requires_grad = False to freeze."""\nx = 1  # requires_grad\n', rules)
    assert not needs_parsing("def f():\n    '''requires_grad'''\n    return 1\n", rules)
    assert needs_parsing("p.requires_grad = False\n", rules)
    assert needs_parsing('setattr(p, "requires_grad", False)\n', rules)
    assert needs_parsing('x = """requires_grad"""\n', rules)  # an assigned string is code
    assert needs_parsing('f"""{p.requires_grad}"""\n', rules)  # an f-string statement evaluates its fields


def test_token_groups_all_have_to_match():
    rules = [Rule("FRZ990", "probe", rules_level(), lambda facts: iter(()), "", tokens=(("freeze",), ("Adam", "SGD")))]
    assert not needs_parsing("model.freeze()\n", rules)
    assert not needs_parsing("opt = SGD(params)\n", rules)
    assert needs_parsing("model.freeze()\nopt = SGD(params)\n", rules)
    assert prefilter.token_groups(("a", "b")) == (("a", "b"),)
    assert prefilter.token_groups((("a",), ("b", "c"))) == (("a",), ("b", "c"))


def test_a_rule_without_tokens_always_runs():
    rules = [Rule("FRZ990", "probe", rules_level(), lambda facts: iter(()), "")]
    assert needs_parsing("x = 1\n", rules)


def rules_level():
    from freezelint.findings import Level

    return Level.NOTE


# --- the scanner --------------------------------------------------------------------------------------------------

TRICKY = [
    '"""module docstring"""\nimport os\n',
    "r'''raw docstring \\''' '''\nx = 1\n",
    'def f():\n    """doc"""  # with a comment\n    return "not a docstring"\n',
    "x = (\n    'inside brackets'\n)\n'after brackets'\n",
    "x = 1 + \\\n    'continued'\n",
    "x = 'a' 'b'\n'a' 'b'\n'a'; y = 2\n",
    "s = '#not a comment' # a comment with 'quotes'\n",
    "f'{x!r} # not a comment'\nrb'bytes'\nBR'bytes'\nu'unicode'\n",
    "'''unterminated\n",
    "'unterminated\nx = 1\n",
    "x = '\\\n  continued string'\n",
    "class A:\n\tb'''tabbed'''\n\n\x0c'form feed'\n",
    "'''a''' if x else y\n'''b'''.join(z)\n",
    "x = 1\r\n'''crlf'''\r\ny = '#'\r\n",
    "x = [\n  1, # c\n]\n  # indented comment\n'doc'\n",
    "",
    "# only a comment",
]


def _check_scanner(text: str) -> None:
    """The fast scanner drops exactly the tokenizer's comments, and never a string the tokenizer keeps (it may keep
    an odd docstring, such as one followed by a line continuation: a doubt costs a parse, not a finding)."""
    fast = list(prefilter._scan(text))
    reference = prefilter._scan_tokens(text)
    if reference is None:
        return  # the tokenizer rejects the text (Python would not compile it)
    assert set(fast) <= set(reference), (text, fast, reference)
    comments = [span for span in reference if text.startswith("#", span[0])]
    assert [span for span in fast if text.startswith("#", span[0])] == comments, (text, fast, reference)


@pytest.mark.parametrize("text", TRICKY)
def test_the_scanner_agrees_with_the_tokenizer_on_tricky_text(text):
    _check_scanner(text)


def test_the_scanner_agrees_with_the_tokenizer_on_every_python_file_here():
    paths = [*FIXTURES.rglob("*.py"), *(ROOT / "freezelint").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    for path in paths:
        _check_scanner(path.read_text(encoding="utf-8"))


def _string_literals() -> st.SearchStrategy[str]:
    prefix = st.sampled_from(["", "r", "b", "rb", "BR", "u", "f", "rf"])
    quote = st.sampled_from(["'", '"', "'''", '"""'])
    body = st.lists(st.sampled_from(["a", " ", "#", "'", '"', "\\\\", "\\'", '\\"', "{x}", "\\\n"]), max_size=6)
    return st.builds(lambda p, q, b: p + q + "".join(b) + q, prefix, quote, body)


# Lines built from the pieces that decide where comments and strings are: quotes, prefixes, brackets, continuations.
_LINES = st.lists(
    st.lists(
        st.one_of(
            _string_literals(),
            st.sampled_from(["x", "x = ", "(", ")", "[", "]", "{", "}", ", ", "; ", "if x: ", "+ ", ".join(y)", "\\"]),
            st.sampled_from(["# comment", "# 'quoted'", '# """doc"""', "#"]),
        ),
        max_size=5,
    ),
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(_LINES, st.sampled_from(["\n", "\r\n"]), st.sampled_from(["", "    ", "\t"]))
def test_the_scanner_agrees_with_the_tokenizer_on_generated_text(lines, newline, indent):
    text = newline.join((indent if index % 2 else "") + "".join(pieces) for index, pieces in enumerate(lines))
    _check_scanner(text + newline)


# --- the tokens ---------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.from_regex(knowledge.OPTIMIZER_NAME, fullmatch=True))
def test_every_optimizer_name_contains_an_optimizer_token(name):
    assert any(token in name for token in knowledge.OPTIMIZER_TOKENS)


@settings(max_examples=100, deadline=None)
@given(st.from_regex(knowledge.TRL_TRAINER, fullmatch=True))
def test_every_trainer_name_contains_a_trainer_token(qualname):
    assert any(token in qualname.rsplit(".", 1)[-1] for token in knowledge.TRAINER_TOKENS)


def test_trainer_and_training_tokens_cover_the_knowledge_tables():
    for name in knowledge.TRAINERS:
        assert any(token in name.rsplit(".", 1)[-1] for token in knowledge.TRAINER_TOKENS), name
    assert knowledge.TRL_TRAINER.pattern.endswith(r"\w*Trainer$")  # the tokens assume TRL's class names end so
    assert set(knowledge.TRAINING_TOKENS) == set(knowledge.TRAINER_TOKENS) | set(knowledge.OPTIMIZER_TOKENS)


def test_rule_codes_are_known_without_importing_the_rules():
    rules = all_rules()
    assert known_codes() == [rule.code for rule in rules]
    for rule in rules:
        module = rule.check.__module__.rsplit(".", 1)[-1]
        assert module.upper().startswith(rule.code), (rule.code, module)


def test_flag_change_and_peft_tokens_cover_the_knowledge_tables():
    """Every freeze or unfreeze form and every PEFT entry point the analysis knows contains one of the tokens that
    rules needing them rely on."""
    forms = [*knowledge.FREEZE_METHODS, *knowledge.FREEZE_FUNCTIONS, *knowledge.LIGHTNING_FINETUNING_METHODS]
    for name in forms:
        assert any(token in name for token in knowledge.FLAG_CHANGE_TOKENS), name
    for name in [*knowledge.PEFT_WRAPPERS, *knowledge.PEFT_IN_PLACE, *knowledge.PEFT_METHODS, "peft.PeftModel.from_pretrained"]:
        assert any(token in name for token in knowledge.PEFT_APPLY_TOKENS), name
    assert set(knowledge.FREEZE_TOKENS) <= set(knowledge.FLAG_CHANGE_TOKENS)


REUSABLE = [
    "params = model.parameters()",
    "params = filter(lambda p: p.requires_grad, model.parameters())",
    "optimizer = AdamW((p for p in model.parameters() if p.requires_grad))",
    "def trainable(m):\n    return (p for p in m.parameters() if p.requires_grad)",
    "groups = [{'params': model.named_parameters()}]",
    "run(*model.parameters())",
    "it = getattr(model, 'parameters')()",
    "get = model.parameters",
    "def list(x):\n    return x\nkept = list(model.parameters())",
    "from helpers import sum\ntotal = sum(model.parameters())",
    "tracker.sum(p.numel() for p in model.parameters())",
]
USED_UP_IN_PLACE = [
    "for p in model.parameters():\n    p.requires_grad = False",
    "n = sum(p.numel() for p in model.parameters() if p.requires_grad)",
    "dtype = next(self.parameters()).dtype",
    "names = [n for n, p in model.named_parameters() if p.requires_grad]",
    "for i, (n, p) in enumerate(zip(a.named_parameters(), b.parameters())):\n    pass",
    "trainable = {n: p for n, p in filter(lambda item: item[1].requires_grad, model.named_parameters())}",
    "import itertools\nfor p in itertools.chain(a.parameters(), b.parameters()):\n    p.requires_grad = False",
    "from itertools import chain\nn = len(list(chain(a.parameters(), b.parameters())))",
]


@pytest.mark.parametrize("code", REUSABLE)
def test_frz205_runs_where_a_parameter_iterator_may_outlive_its_statement(code):
    import ast

    assert get_rule_possible("FRZ205")(ast.parse(code))


@pytest.mark.parametrize("code", USED_UP_IN_PLACE)
def test_frz205_is_skipped_where_every_parameter_iterator_is_used_up_in_place(code):
    import ast

    assert not get_rule_possible("FRZ205")(ast.parse(code))


def get_rule_possible(code: str):
    rule = next(rule for rule in all_rules() if rule.code == code)
    assert rule.possible is not None
    return rule.possible
