"""What the runtime mode says when it could not check something: the right cause, the right line, never silence.

Scripts a user writes (a tokenizer for the collator, a missing config, a crash under `--exec`, a notebook), replayed
in this process (`replay_file`) or through the command, and the words the report must use.
"""

from __future__ import annotations

import json
import textwrap

import nbformat
from cli_helpers import run_cli
from runtime_support import replay_file, tiny  # noqa: F401 - fixture

from freezelint.analysis import collect
from freezelint.linter import parse
from freezelint.runtime.slicer import plan
from freezelint.source import Source

COLLATOR_IN_THE_TRAINER = '''
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments
from peft import LoraConfig, get_peft_model

tokenizer = AutoTokenizer.from_pretrained("gpt2")
tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained("gpt2")
model = get_peft_model(model, LoraConfig(r=4, target_modules=["c_attn"], task_type="CAUSAL_LM"))
trainer = Trainer(model=model, args=TrainingArguments("out"), data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
trainer.train()
'''
COLLATOR_OF_ITS_OWN = '''
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments

tokenizer = AutoTokenizer.from_pretrained("gpt2")
tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained("gpt2")
model.transformer.wte.requires_grad_(False)
collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)
trainer = Trainer(model=model, args=TrainingArguments("out"), data_collator=collator)
trainer.train()
'''


def kept_lines(code: str) -> list[str]:
    text = textwrap.dedent(code).lstrip("\n")
    source = Source(path="/tmp/train.py", text=text)
    program = plan(collect(source, parse(source)), text, "/tmp/train.py")
    lines = text.splitlines()
    return [lines[row - 1].strip() for row in sorted(program.kept_lines)]


def test_a_configuring_statement_is_never_replayed_without_the_statement_that_makes_its_object():
    for code in (COLLATOR_IN_THE_TRAINER, COLLATOR_OF_ITS_OWN):
        lines = kept_lines(code)
        configures = "tokenizer.pad_token = tokenizer.eos_token" in lines
        makes = 'tokenizer = AutoTokenizer.from_pretrained("gpt2")' in lines
        assert configures == makes, lines
        assert not any(line.startswith("collator =") for line in lines), "a data collator is not a model"


def test_a_collator_script_replays_without_a_failure(tmp_path, tiny):
    for name, code in (("in_trainer.py", COLLATOR_IN_THE_TRAINER), ("own.py", COLLATOR_OF_ITS_OWN)):
        script = tmp_path / name
        script.write_text(code)
        _, result = replay_file(script, {"gpt2": tiny["gpt2"]})
        assert result["failures"] == [], (name, result["failures"])
        assert [model["class"] for model in result["models"]] in (["PeftModelForCausalLM"], ["GPT2LMHeadModel"])


def verdict_of(result: dict, static: list, code: str) -> dict:
    index = next(i for i, finding in enumerate(static) if finding.code == code)
    return result["verdicts"][index]


def test_a_missing_config_is_blamed_not_the_statement_that_needed_the_model(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(
        "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('someone/model')\n"
        "model.requires_grad = False\n"
    )
    static, result = replay_file(script, {})
    evidence = verdict_of(result, static, "FRZ101")["evidence"]
    assert "requires_grad` attribute" not in evidence
    assert evidence.startswith("line 3 failed in the replay (NameError: name 'model' is not defined), because line 2 "
                               "failed first (ConfigNotFound: no configuration for `someone/model`"), evidence
    assert result["unbuilt"] == [
        f"the model at line 2 could not be built: {result['failures'][0]['kind']}: {result['failures'][0]['message']}"
    ]


def test_under_exec_a_crash_is_blamed_not_a_branch(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import json
        from transformers import AutoModel

        settings = json.loads("{}")
        model = AutoModel.from_pretrained("bert-base-uncased")
        if settings["freeze"]:
            model.requires_grad = False
    ''').lstrip())
    static, result = replay_file(script, {"bert-base-uncased": tiny["bert-base-uncased"]}, exec_mode=True)
    evidence = verdict_of(result, static, "FRZ101")["evidence"]
    assert evidence == "line 7 did not run: the script ended at line 6 (KeyError: 'freeze')", evidence


def test_a_model_that_could_not_be_built_is_an_error_not_no_problems_found(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("from transformers import AutoModel\nmodel = AutoModel.from_pretrained('someone/model')\n")
    completed = run_cli("--runtime", str(script))
    assert "No problems found" not in completed.stdout + completed.stderr
    assert completed.returncode == 2
    assert ("train.py: error: runtime check incomplete: the model at line 2 could not be built: ConfigNotFound: no "
            "configuration for `someone/model`") in completed.stderr
    assert "1 file could not be checked" in completed.stdout


def test_a_notebook_is_replayed_cell_by_cell_and_speaks_of_cells(tmp_path, tiny):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Fine-tuning"),
        nbformat.v4.new_code_cell("!pip install transformers\nfrom transformers import AutoModel"),
        nbformat.v4.new_code_cell("model = AutoModel.from_pretrained('bert-base-uncased')"),
        nbformat.v4.new_code_cell("print(model)\nmodel.requires_grad = False"),
    ]
    path = tmp_path / "finetune.ipynb"
    path.write_text(nbformat.writes(notebook))
    completed = run_cli("--runtime", "--model-config", f"bert-base-uncased={tiny['bert-base-uncased']}",
                        "--output-format", "json", str(path))
    findings = json.loads(completed.stdout)
    assert [(f["code"], f["cell"], f["location"]["row"]) for f in findings] == [("FRZ101", 4, 2)], completed.stderr
    runtime = findings[0]["runtime"]
    assert runtime["status"] == "confirmed", runtime
    assert "cell 4, line 2 ran once and changed no parameter's requires_grad" in runtime["evidence"]
    assert "finetune.ipynb: runtime check: replayed" in completed.stderr
    assert "(BertModel: bert-base-uncased at cell 3, line 1" in completed.stderr


def test_the_slice_imports_only_the_names_it_reads(tmp_path):
    from freezelint.runtime.replay import Request, imported_libraries, prepare

    script = tmp_path / "train.py"
    script.write_text(COLLATOR_OF_ITS_OWN)
    libraries = dict(imported_libraries(prepare(Request(str(script)))))
    assert libraries == {"transformers": ["AutoModelForCausalLM"]}, libraries


def test_a_script_without_transformers_does_not_import_it(tmp_path):
    """The warm-up of a pure torch script imports torch only (transformers' modeling code costs seconds)."""
    import subprocess
    import sys

    from cli_helpers import ROOT

    script = tmp_path / "train.py"
    script.write_text("import torch\nmodel = torch.nn.Linear(4, 2)\nmodel.weight.requires_grad_(False)\n")
    probe = textwrap.dedent(f'''
        import sys
        from freezelint.runtime.command import Runtime, RuntimeOptions
        Runtime(RuntimeOptions()).warm_up([{str(script)!r}])
        print("torch" in sys.modules, "transformers" in sys.modules)
    ''')
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert completed.stdout.split() == ["True", "False"], completed.stderr
