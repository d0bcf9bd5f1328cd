"""`[tool.freezelint]`: found from the linted path upward, every key honoured, bad input is one clear line."""

from __future__ import annotations

import json
import textwrap

import pytest

from cli_helpers import FIXTURES, run_cli

from freezelint.config import ConfigError, RuleSelection, Settings, detect_target_transformers, find_config, load_settings
from freezelint.findings import Level

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
FREEZE_AND_OPTIMIZE = (FIXTURES / "FRZ201" / "all_parameters_after_freeze.py").read_text()
HELPER_CALL = FREEZE_AND_OPTIMIZE.replace(
    "import torch\n", "import torch\nfrom myproject.training import freeze_backbone\n"
).replace("for param in model.bert.parameters():\n    param.requires_grad = False\n", "freeze_backbone(model.bert)\n")


def project(tmp_path, config: str, files: dict[str, str] | None = None):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(config))
    for name, text in (files or {"src/train.py": PREMISE}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def codes(completed) -> list[tuple[str, str]]:
    assert completed.returncode in (0, 1), completed.stderr
    return sorted((record["filename"].split("/")[-1], record["code"]) for record in json.loads(completed.stdout))


def test_config_is_found_from_the_linted_path_upward(tmp_path):
    root = project(tmp_path, "[tool.freezelint]\nignore = ['FRZ302']\n")
    (root / "sub").mkdir()
    (root / "sub" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no [tool.freezelint]: keep looking
    assert find_config(str(root / "sub")) == str(root / "pyproject.toml")
    assert find_config(str(root / "src" / "train.py")) == str(root / "pyproject.toml")
    # From anywhere: the settings come from the linted path's project, not the working directory's.
    completed = run_cli(str(root / "src"), "--fail-on", "note", "--output-format", "json", cwd=FIXTURES)
    assert codes(completed) == []
    assert codes(run_cli(str(root / "src"), "--isolated", "--output-format", "json")) == [("train.py", "FRZ302")]


def test_select_ignore_and_flags_layer_like_ruff(tmp_path):
    root = project(tmp_path, "[tool.freezelint]\nselect = ['FRZ2']\n", {"a.py": PREMISE, "b.py": FREEZE_AND_OPTIMIZE})
    assert codes(run_cli(".", "--output-format", "json", cwd=root)) == [("b.py", "FRZ201")]
    # --extend-select adds to the configuration's choice, --select replaces it.
    both = codes(run_cli(".", "--extend-select", "FRZ302", "--output-format", "json", cwd=root))
    assert both == [("a.py", "FRZ302"), ("b.py", "FRZ201")]
    assert codes(run_cli(".", "--select", "FRZ302", "--output-format", "json", cwd=root)) == [("a.py", "FRZ302")]
    settings = Settings(selections=(RuleSelection(select=("FRZ",), ignore=("FRZ3",)), RuleSelection(extend_select=("FRZ302",))))
    from freezelint.rules import all_rules

    expected = [r.code for r in all_rules() if not r.runtime_only and (not r.code.startswith("FRZ3") or r.code == "FRZ302")]
    assert [rule.code for rule in settings.rules()] == expected and "FRZ201" in expected


def test_per_file_ignores_levels_fail_on_and_excludes(tmp_path):
    root = project(
        tmp_path,
        """
        [tool.freezelint]
        fail-on = "warning"
        extend-exclude = ["legacy"]
        [tool.freezelint.per-file-ignores]
        "scripts/*" = ["FRZ3"]
        [tool.freezelint.levels]
        FRZ302 = "warning"
        """,
        {"src/train.py": PREMISE, "scripts/run.py": PREMISE, "legacy/old.py": PREMISE},
    )
    completed = run_cli(".", "--output-format", "json", cwd=root)
    records = json.loads(completed.stdout)
    assert [(r["filename"].split(str(root) + "/")[1], r["level"]) for r in records] == [("src/train.py", "warning")]
    assert completed.returncode == 1, "the configured level meets the configured fail-on"
    assert run_cli(".", "--fail-on", "error", cwd=root).returncode == 0, "the flag wins over the configuration"
    # A file named explicitly is checked even when excluded, unless --force-exclude (what pre-commit passes).
    assert "legacy/old.py" in run_cli("legacy/old.py", cwd=root).stdout
    forced = run_cli("legacy/old.py", "src/train.py", "--force-exclude", "--output-format", "concise", cwd=root)
    assert "legacy" not in forced.stdout and "src/train.py:4:1: FRZ302" in forced.stdout


def test_full_finetune_declared_for_a_set_of_files(tmp_path):
    root = project(
        tmp_path,
        '[tool.freezelint]\nfull-finetune = ["recipes/full_*.py"]\n',
        {"recipes/full_bert.py": PREMISE, "recipes/head_only.py": PREMISE},
    )
    assert codes(run_cli(".", "--output-format", "json", cwd=root)) == [("head_only.py", "FRZ302")]


def test_freeze_helpers_are_freezes_the_rules_see(tmp_path):
    assert "freeze_backbone(model.bert)" in HELPER_CALL
    root = project(tmp_path, '[tool.freezelint]\nfreeze-helpers = ["myproject.training.freeze_backbone"]\n', {"train.py": HELPER_CALL})
    # Unknown, the helper is opaque: it may freeze, so nothing is said. Declared, it freezes `model.bert`, which the
    # all-parameter optimizer then gets (FRZ201).
    assert codes(run_cli(".", "--isolated", "--output-format", "json", cwd=root)) == []
    assert codes(run_cli(".", "--output-format", "json", cwd=root)) == [("train.py", "FRZ201")]


def test_config_file_and_isolated(tmp_path):
    project(tmp_path, "[tool.freezelint]\nignore = ['FRZ302']\n", {"train.py": PREMISE})
    other = tmp_path / "strict.toml"
    other.write_text("select = ['FRZ302']\nfail-on = 'note'\n")  # a dedicated file: keys at top level
    assert run_cli("train.py", cwd=tmp_path).returncode == 0
    assert run_cli("train.py", "--config", str(other), cwd=tmp_path).returncode == 1
    assert run_cli("train.py", "--isolated", "--fail-on", "note", cwd=tmp_path).returncode == 1
    both = run_cli("train.py", "--isolated", "--config", str(other), cwd=tmp_path)
    assert both.returncode == 2 and "cannot be used together" in both.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("selct = ['FRZ1']", "[tool.freezelint] unknown key 'selct' (did you mean 'select'?)"),
        ("fail_on = 'note'", "[tool.freezelint] unknown key 'fail_on' (did you mean 'fail-on'?)"),
        ("fail-on = 'fatal'", "[tool.freezelint] 'fail-on' must be one of 'error', 'warning', 'note', not 'fatal'"),
        ("select = 'FRZ1'", "[tool.freezelint] 'select' must be a list of strings, not a string (write ['FRZ1'])"),
        ("ignore = ['FRZ999']", "[tool.freezelint] 'ignore' has an unknown rule code or prefix: FRZ999"),
        ("target-transformers = 3", "[tool.freezelint] 'target-transformers' must be a transformers major version, 4 or 5, not 3"),
        ("freeze-helpers = ['my helper']", "[tool.freezelint] 'freeze-helpers' entry 'my helper' is not a qualified name"),
        ("[tool.freezelint.levels]\nFRZ302 = 'loud'", "'levels' value for FRZ302 must be one of 'error', 'warning', 'note', not 'loud'"),
        ("select = [", "invalid TOML"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(tmp_path, config, expected):
    body = config if config.startswith("[") else f"[tool.freezelint]\n{config}\n"
    project(tmp_path, body, {"train.py": PREMISE})
    completed = run_cli("train.py", cwd=tmp_path)
    assert completed.returncode == 2 and completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr
    assert lines[0].startswith("pyproject.toml: error: ") and expected in lines[0], lines[0]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"requirements.txt": "torch>=2.1\ntransformers>=4.30,<5  # pinned below 5\n"}, 4),
        ({"requirements.txt": "transformers==4.57.6\n"}, 4),
        ({"requirements.txt": "transformers~=4.40\n"}, 4),
        ({"requirements.txt": "transformers[torch]>=4.30\n"}, 5),
        ({"requirements/train.txt": "-r base.txt\ntransformers>=5.0\n"}, 5),
        ({"pyproject.toml": "[project]\nname='x'\ndependencies = ['transformers<5.0']\n"}, 4),
        ({"pyproject.toml": "[project]\nname='x'\n[project.optional-dependencies]\nhf = ['transformers==4.*']\n"}, 4),
        ({"pyproject.toml": "[tool.poetry.dependencies]\ntransformers = '^4.30'\n"}, 4),
        ({"pyproject.toml": "[dependency-groups]\ntrain = ['transformers>=5']\n"}, 5),
        ({"requirements.txt": "torch\ndatasets\n"}, None),
        ({"requirements.txt": "transformers @ git+https://github.com/huggingface/transformers\n"}, None),
        # Real-code shape: the version in setup.py, setup.cfg, conda's environment.yml, or a copy in the repository.
        ({"setup.py": "from setuptools import setup\nsetup(name='x', install_requires=['torch', 'transformers==4.4.2'])\n"}, 4),
        ({"setup.py": "DEPS = ['transformers>=5']\nimport setuptools\nsetuptools.setup(install_requires=DEPS)\n"}, 5),
        ({"setup.py": "this is not python (\n"}, None),
        ({"setup.cfg": "[options]\ninstall_requires =\n    torch\n    transformers>=4.20,<4.40\n"}, 4),
        ({"setup.cfg": "[options.extras_require]\nhf = transformers>=5.1\n"}, 5),
        ({"environment.yml": "dependencies:\n  - python=3.10\n  - transformers=4.30\n"}, 4),
        ({"environment.yml": "dependencies:\n  - pip:\n    - transformers==4.57.6  # pinned\n"}, 4),
        ({"transformers/__init__.py": "__version__ = \"4.4.2\"\n", "requirements.txt": "transformers>=5\n"}, 4),
        ({"src/transformers/__init__.py": "__version__ = '5.2.0.dev0'\n"}, 5),
    ],
)
def test_target_transformers_is_read_from_the_requirements(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert detect_target_transformers(str(tmp_path)) == expected
    settings = load_settings(str(tmp_path))
    assert settings.target_transformers == (expected or 5)
    assert settings.options_for(str(tmp_path / "train.py")).target_transformers == (expected or 5)


def test_target_transformers_set_in_the_config_wins_and_isolated_ignores_requirements(tmp_path):
    (tmp_path / "requirements.txt").write_text("transformers==4.57.6\n")
    assert load_settings(str(tmp_path), isolated=True).target_transformers == 5
    (tmp_path / "pyproject.toml").write_text("[tool.freezelint]\ntarget-transformers = 5\n")
    assert load_settings(str(tmp_path)).target_transformers == 5
    (tmp_path / "pyproject.toml").write_text("[tool.freezelint]\nfail-on = 'note'\n")
    settings = load_settings(str(tmp_path))
    assert settings.target_transformers == 4 and settings.fail_on is Level.NOTE


def test_config_error_has_path_and_message(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.freezelint]\nexclude = 3\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(str(tmp_path))
    assert raised.value.path.endswith("pyproject.toml") and "'exclude' must be a list of strings" in raised.value.message
