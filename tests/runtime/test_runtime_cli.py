"""`freezelint --runtime` end to end, as a user runs it: output, exit status, options, refusals, limits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from cli_helpers import ROOT, run_cli
from runtime_support import CASES, numel, tiny, tiny_model  # noqa: F401 - fixture


def model_configs(tiny: dict[str, str]) -> list[str]:
    return [arg for name, path in tiny.items() for arg in ("--model-config", f"{name}={path}")]


def test_json_output_carries_the_runtime_status_and_the_tables_go_to_stderr(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
        for name, param in model.named_parameters():
            if name.startswith("roberta.encoder"):
                param.requires_grad = False
        Trainer(model=model, args=TrainingArguments("out")).train()
    '''))
    completed = run_cli("--runtime", *model_configs(tiny), "--output-format", "json", str(script))
    assert completed.returncode == 1, completed.stderr
    findings = json.loads(completed.stdout)
    assert [(f["code"], f["location"]["row"], f["runtime"]["status"]) for f in findings] == [("FRZ107", 6, "found")]
    assert findings[0]["level"] == "error"
    bert = tiny_model(tiny, "bert-base-uncased", num_labels=2)
    names, total, body = len(list(bert.parameters())), numel(bert.parameters()), numel(bert.bert.parameters())
    assert f"'roberta.encoder'` matches none of the {names} parameter names of `model`" in findings[0]["runtime"]["evidence"]
    assert f"{total:,} parameters: {total:,} trainable, 0 frozen" in completed.stderr
    assert f"bert        BertModel     {body:,}    {body:,}       0" in completed.stderr


def test_sarif_and_github_output_carry_the_runtime_status(tiny):
    # The static FRZ302 note on a project model that freezes its encoder in __init__: refuted at runtime.
    case = str(CASES / "frz302_refuted_freeze_in_project_model.py")
    sarif = run_cli("--runtime", *model_configs(tiny), "--output-format", "sarif", case)
    assert sarif.returncode == 0, sarif.stderr
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    runtime = [result["properties"]["runtime"] for result in results if result["ruleId"] == "FRZ302"]
    assert runtime and runtime[0]["status"] == "refuted" and runtime[0]["evidence"]
    assert "[runtime:" not in results[0]["message"]["text"]  # a field of its own, not in the text

    github = run_cli("--runtime", *model_configs(tiny), "--output-format", "github", case)
    annotations = [line for line in github.stdout.splitlines() if line.startswith("::") and "title=FRZ302" in line]
    assert annotations and "[runtime: refuted: " in annotations[0], github.stdout


def test_a_refuted_finding_is_shown_and_does_not_count(tiny):
    # The project's model class freezes its encoder in __init__ (another module): the static FRZ302 note is wrong.
    case = str(CASES / "frz302_refuted_freeze_in_project_model.py")
    refuted = run_cli("--runtime", *model_configs(tiny), "--fail-on", "note", case)
    assert refuted.returncode == 0, refuted.stdout + refuted.stderr
    bert = tiny_model(tiny, "bert-base-uncased", num_labels=2)
    total, frozen = numel(bert.parameters()), numel(bert.bert.parameters())
    assert "FRZ302 [note]" in refuted.stdout
    assert f"[runtime: refuted: {frozen:,} of {total:,} parameters of `model` are frozen]" in refuted.stdout
    assert "Runtime: 1 refuted (not counted)." in refuted.stdout
    confirmed = run_cli("--runtime", *model_configs(tiny), "--fail-on", "note", str(CASES / "frz201_found_by_arguments.py"))
    assert confirmed.returncode == 1
    assert "FRZ201 [note] [found at runtime]" in confirmed.stdout


def test_files_that_cannot_be_replayed_say_why(tmp_path, tiny):
    (tmp_path / "remote.py").write_text(
        "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('bert-base-uncased', trust_remote_code=True)\n"
    )
    (tmp_path / "unknown.py").write_text(
        "from transformers import AutoModel, Trainer\nmodel = AutoModel.from_pretrained('someone/model')\n"
        "Trainer(model=model).train()\n"
    )
    (tmp_path / "args.py").write_text(textwrap.dedent('''
        import argparse
        from transformers import AutoModel
        parser = argparse.ArgumentParser()
        parser.add_argument("--model_name_or_path", required=True)
        model = AutoModel.from_pretrained(parser.parse_args().model_name_or_path)
    '''))
    completed = run_cli("--runtime", *model_configs(tiny), str(tmp_path))
    output = completed.stdout
    assert "trust_remote_code=True` runs the checkpoint's own Python code: freezelint runs it only with --exec" in output
    assert "no configuration for `someone/model`" in output
    assert "pass `--model-config someone/model=path/to/config.json`" in output
    assert "FRZ302 [note]" in output and "[runtime: not-checkable: the model at line 2 could not be built" in output
    assert "the following arguments are required: --model_name_or_path" in output
    assert "pass the script's arguments after `--`" in output
    with_args = run_cli("--runtime", *model_configs(tiny), str(tmp_path / "args.py"), "--", "--model_name_or_path", "gpt2")
    assert "model `model` (GPT2Model: gpt2 at line 6" in with_args.stdout


def test_exec_runs_the_whole_script_and_stops_at_training(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import json
        from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

        settings = json.loads('{"freeze": true}')
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2, trust_remote_code=True)
        if settings["freeze"]:
            model.bert.requires_grad_(False)
        trainer = Trainer(model=model, args=TrainingArguments(output_dir="out", use_cpu=True, report_to=[]))
        trainer.train()
        raise SystemExit("never reached")
    '''))
    completed = run_cli("--exec", *model_configs(tiny), str(script))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "replayed the whole script (--exec)" in completed.stdout
    bert = tiny_model(tiny, "bert-base-uncased", num_labels=2)
    total, head = numel(bert.parameters()), numel(bert.classifier.parameters())
    assert f"{total:,} parameters: {head:,} trainable, {total - head:,} frozen" in completed.stdout
    assert "stopped at the first Trainer.train() (line 10)" in completed.stdout


def test_weights_loads_a_local_checkpoint(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=100)
    model = BertForSequenceClassification(config)
    model.save_pretrained(tmp_path / "checkpoint")
    total = sum(p.numel() for p in model.parameters())
    frozen = sum(p.numel() for p in model.bert.embeddings.parameters())
    counts = f"{total:,} parameters: {total - frozen:,} trainable, {frozen:,} frozen"
    script = tmp_path / "train.py"
    script.write_text(
        "from transformers import AutoModelForSequenceClassification\n"
        f"model = AutoModelForSequenceClassification.from_pretrained({str(tmp_path / 'checkpoint')!r})\n"
        "model.bert.embeddings.requires_grad_(False)\n"
    )
    meta = run_cli("--runtime", str(script))
    assert "checkpoint directory" in meta.stdout and counts in meta.stdout
    real = run_cli("--runtime", "--weights", str(script))
    assert "weights (local files)" in real.stdout and counts in real.stdout


def test_a_replay_that_does_not_finish_is_stopped(tmp_path, tiny):
    script = tmp_path / "train.py"
    script.write_text(
        "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('bert-base-uncased')\n"
        "while True:\n    model.embeddings.requires_grad_(False)\n"
    )
    completed = run_cli("--runtime", "--timeout", "5", *model_configs(tiny), str(script))
    assert "the replay did not finish within 5 s (raise the limit with --timeout)" in completed.stdout


def test_runtime_options_need_runtime():
    completed = run_cli("--weights", str(CASES))
    assert completed.returncode == 2 and "need --runtime" in completed.stderr


def test_runtime_without_the_extra_says_how_to_install_it(tmp_path):
    probe = textwrap.dedent(f'''
        import sys
        sys.modules["torch"] = None  # as if the runtime extra were not installed
        from freezelint.cli import main
        main(["--runtime", {str(CASES / "frz202_gradual_unfreezing.py")!r}])
    ''')
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        'freezelint: error: the runtime mode needs torch and transformers: pip install "freezelint[runtime]"'
    )
    assert completed.stdout == ""


def test_runtime_findings_follow_the_rule_selection():
    """Codes found at runtime are selected like static ones, runtime-only codes and codes without a rule included."""
    from freezelint.config import RuleSelection, Settings
    from freezelint.findings import Level

    settings = Settings()
    assert settings.selects("FRZ107") and settings.selects("FRZ503")
    narrowed = Settings(selections=(RuleSelection(select=("FRZ1",), ignore=("FRZ107",)),))
    assert narrowed.selects("FRZ101") and not narrowed.selects("FRZ107") and not narrowed.selects("FRZ304")
    layered = Settings(selections=(RuleSelection(select=("FRZ3",)), RuleSelection(extend_select=("FRZ107",))))
    assert layered.selects("FRZ304") and layered.selects("FRZ107") and not layered.selects("FRZ201")
    per_file = Settings(per_file_ignores=(("legacy/*.py", ("FRZ3",)),))
    assert per_file.selects("FRZ304", "train.py") and not per_file.selects("FRZ304", "legacy/old.py")
    assert Settings(levels=(("FRZ107", Level.WARNING),)).level_for("FRZ107", Level.ERROR) is Level.WARNING
