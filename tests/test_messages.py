"""Every finding's wording is a template of its rule's module, with named fields (issue 13, "findings are structured
values"): a rule's `Report` carries a `Message` whose template is one of the module's constants (a string, or a value
of a dict of them), and whose fields are exactly the ones the template names.

The rules run in-process on every fixture file (with the default options and with transformers 4 as the target), and
on a few programs below that reach the wordings no fixture reaches, so that every template is checked where it is
used."""

from __future__ import annotations

import re
import string
import sys
import textwrap
from collections.abc import Iterator
from types import ModuleType

import libcst as cst
import pytest
from cli_helpers import FIXTURES

from freezelint.analysis import collect
from freezelint.decoding import decode
from freezelint.facts import Options
from freezelint.rules import Message, Report, Rule, all_rules

STATIC_RULES = [rule for rule in all_rules() if not rule.runtime_only]
OPTIONS = (Options(), Options(target_transformers=4))

# Programs that reach wordings the fixtures do not, with the rule each must make report.
PROGRAMS = {
    "frz103_unreadable_value": ("FRZ103", """
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased")
        model.encoder.requires_grad_ = flag
    """),
    "frz108_one_other_layer": ("FRZ108", """
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased", num_hidden_layers=11)
        for name, param in model.named_parameters():
            if "layer.1" in name:
                param.requires_grad = False
    """),
    "frz204_new_parameter": ("FRZ204", """
        import torch
        from torch import nn
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased")
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.pooler.dense.weight = nn.Parameter(torch.zeros(768, 768))
        for batch in loader:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    """),
    "frz205_loop": ("FRZ205", """
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased")
        params = model.parameters()
        for p in params:
            p.requires_grad = False
        for p in params:
            print(p.shape)
    """),
    "frz301_unknown_head": ("FRZ301", """
        import torch
        from torch import nn

        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        for p in model.parameters():
            p.requires_grad = False
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            model(x).sum().backward()
            optimizer.step()
    """),
    "frz303_typer": ("FRZ303", """
        import typer
        from transformers import AutoModelForSequenceClassification, Trainer


        def main(freeze_encoder: bool = typer.Option(False)):
            model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
            print(freeze_encoder)
            Trainer(model=model).train()


        typer.run(main)
    """),
    "frz403_peft_config": ("FRZ403", """
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM
        from trl import SFTTrainer

        model = AutoModelForCausalLM.from_pretrained("gpt2")
        trainer = SFTTrainer(model=model, peft_config=LoraConfig(r=8), train_dataset=ds)
        trainer.model.requires_grad_(False)
        trainer.train()
    """),
    "frz403_peft_config_unfrozen": ("FRZ403", """
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM
        from trl import SFTTrainer

        model = AutoModelForCausalLM.from_pretrained("gpt2")
        trainer = SFTTrainer(model=model, peft_config=LoraConfig(r=8), train_dataset=ds)
        trainer.model.requires_grad_(False)
        trainer.model.requires_grad_(True)
        trainer.train()
    """),
    "frz404_unknown_head": ("FRZ404", """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("someone/mystery-model", num_labels=3)
        config = LoraConfig(r=8)
        model = get_peft_model(model, config)
    """),
    "frz503_eval_undone_in_loop": ("FRZ503", """
        import torch
        import torchvision

        model = torchvision.models.resnet50(weights="DEFAULT")
        model.layer1.requires_grad_(False)
        model.layer1.eval()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in loader:
            model.train()
            model(x).sum().backward()
            optimizer.step()
    """),
    "frz504_unreadable_value": ("FRZ504", """
        import torch
        from torch.nn.parallel import DistributedDataParallel as DDP
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        ddp_model = DDP(model)
        optimizer = torch.optim.AdamW(ddp_model.parameters(), lr=1e-5)
        model.bert.encoder.requires_grad_(train_encoder)
        for batch in loader:
            ddp_model(**batch).loss.backward()
            optimizer.step()
    """),
    "frz506_part_unfrozen_again": ("FRZ506", """
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        model.requires_grad_(False)
        for name, p in model.bert.encoder.named_parameters():
            if "layer.11." in name:
                p.requires_grad = True
        model = FSDP(model)
    """),
    "frz507_frozen_after_initialize": ("FRZ507", """
        import deepspeed
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config="ds.json")
        for name, p in model.named_parameters():
            if "embeddings" in name:
                p.requires_grad = False
        for batch in loader:
            engine.backward(engine(**batch).loss)
            engine.step()
    """),
    "frz508_frozen_in_turn": ("FRZ508", """
        import torch
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        compiled = torch.compile(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        for epoch in range(10):
            model.bert.encoder.layer[epoch].requires_grad_(False)
            for batch in loader:
                compiled(**batch).loss.backward()
                optimizer.step()
    """),
}


def _reports(path: str, data: bytes) -> Iterator[tuple[Rule, Report]]:
    source = decode(path, data)
    module = cst.parse_module(source.text)
    for options in OPTIONS:
        facts = collect(source, module, options)
        for rule in STATIC_RULES:
            for report in rule.check(facts):
                yield rule, report


@pytest.fixture(scope="module")
def reports() -> dict[str, list[tuple[str, Report]]]:
    """Every report of every static rule, by rule code, with the program it is about."""
    found: dict[str, list[tuple[str, Report]]] = {rule.code: [] for rule in STATIC_RULES}
    inputs = [(path.relative_to(FIXTURES).as_posix(), path.read_bytes()) for path in sorted(FIXTURES.rglob("*")) if path.suffix in (".py", ".ipynb")]
    inputs += [(f"{name}.py", textwrap.dedent(code).encode()) for name, (_, code) in PROGRAMS.items()]
    for name, data in inputs:
        for rule, report in _reports(name, data):
            found[rule.code].append((name, report))
    return found


def _constants(module: ModuleType) -> list[str]:
    """The module's string constants, and the strings in its dicts of them."""
    found: list[str] = []
    for value in vars(module).values():
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(item for item in value.values() if isinstance(item, str))
    return found


def _named(template: str) -> set[str]:
    """The fields a template names (`{count:,}` names `count`)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            match = re.match(r"\w*", field)
            names.add(match.group(0) if match else field)
    return names


def problems(module: ModuleType, report: Report) -> list[str]:
    """What is wrong with the wording of a report made by a rule of `module`."""
    message = report.message
    if not isinstance(message, Message):
        return [f"the message is a {type(message).__name__}, not a Message: {message!r}"]
    found = []
    if not any(message.template is constant for constant in _constants(module)):
        found.append(f"the template is no constant of {module.__name__}: {message.template!r}")
    named, given = _named(message.template), set(message.fields)
    if named - given:
        found.append(f"fields named but not given: {sorted(named - given)} in {message.template!r}")
    if given - named:
        found.append(f"fields given but not named: {sorted(given - named)} in {message.template!r}")
    return found


@pytest.mark.parametrize("rule", STATIC_RULES, ids=[rule.code for rule in STATIC_RULES])
def test_every_message_is_a_template_of_its_rule_module_with_the_fields_it_names(rule: Rule, reports) -> None:
    made = reports[rule.code]
    assert made, f"no fixture makes {rule.code} report: its messages go unchecked"
    module = sys.modules[rule.check.__module__]
    found = {f"{name}: {problem}" for name, report in made for problem in problems(module, report)}
    assert not found, "\n".join(sorted(found))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_extra_program_reaches_its_rule(name: str, reports) -> None:
    """The programs above are here for the wordings they reach: a change that silences one must be seen."""
    code = PROGRAMS[name][0]
    assert any(where == f"{name}.py" for where, _ in reports[code])


# A module with the shapes a rule uses: a template, and a dict of alternative templates.
_example = ModuleType("example_rule")
_example.MESSAGE = "`{module}` is frozen at line {line}."  # type: ignore[attr-defined]
_example.MESSAGES = {True: "`{module}` is {count:,} parameters.", False: "nothing"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Message(_example.MESSAGE, {"module": "m", "line": 3}), []),  # type: ignore[attr-defined]
        (Message(_example.MESSAGES[True], {"module": "m", "count": 1000}), []),  # type: ignore[attr-defined]
        ("`m` is frozen at line 3.", ["not a Message"]),
        (Message("".join(["`{module}` is frozen at line ", "{line}."]), {"module": "m", "line": 3}), ["no constant"]),
        (Message(_example.MESSAGE, {"module": "m"}), ["named but not given: ['line']"]),
        (Message(_example.MESSAGE, {"module": "m", "line": 3, "value": False}), ["given but not named: ['value']"]),
    ],
    ids=["template", "dict-template", "plain-string", "built-at-run-time", "missing-field", "unused-field"],
)
def test_the_check_tells_a_wrong_message(message: object, expected: list[str]) -> None:
    found = problems(_example, Report(cst.Name("x"), message))  # type: ignore[arg-type]
    assert len(found) == len(expected) and all(part in problem for part, problem in zip(expected, found)), found
