"""The cache: an unchanged file is not analysed again; anything that could change its findings is."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, ROOT, run_cli
from freezelint import cache as cache_module
from freezelint import runner
from freezelint.cache import Cache, configuration_key
from freezelint.config import RuleSelection, Settings

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
FROZEN = PREMISE + "model.bert.requires_grad_(False)\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "train.py").write_text(PREMISE)
    (tmp_path / "other.py").write_text("x = 1\n")
    return tmp_path


def _lint(project: Path, settings: Settings | None = None, **kwargs) -> list:
    settings = settings or Settings(root=str(project))
    paths = [str(project / "other.py"), str(project / "train.py")]
    cache = Cache(str(project / ".freezelint_cache"), settings)
    return runner.lint_files(paths, None, 2, settings, cache, **kwargs)


def _codes(results: list) -> list[list[str]]:
    return [[finding.code for finding in result.findings] for result in results]


@pytest.fixture
def no_analysis_after_first_run(project, monkeypatch):
    """Lint once, then fail if any file is analysed again (every result must come from the cache)."""
    _lint(project)

    monkeypatch.setattr(runner, "_run", _refuse)


def _refuse(*args, **kwargs):
    raise AssertionError("a file was analysed")


def test_a_second_run_reads_every_result_from_the_cache(project, monkeypatch):
    first = _lint(project)
    assert _codes(first) == [[], ["FRZ302"]]
    monkeypatch.setattr(runner, "_run", _refuse)
    second = _lint(project)
    assert second == first  # messages, positions, source lines: all kept
    directory = project / ".freezelint_cache"
    assert (directory / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (directory / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_an_edited_file_is_analysed_again(project):
    _lint(project)
    (project / "train.py").write_text(FROZEN)
    assert _codes(_lint(project)) == [[], []]


def test_an_edit_that_keeps_size_and_modification_time_is_still_seen(project):
    _lint(project)
    path = project / "train.py"
    before = path.stat()
    path.write_text(PREMISE.replace("model = ", "mode1 = ").replace("=model,", "=mode1,"))  # same size, other content
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "`mode1`" in _lint(project)[1].findings[0].message


def test_touching_a_file_without_changing_it_costs_a_hash_not_an_analysis(project, no_analysis_after_first_run):
    path = project / "train.py"
    os.utime(path, ns=(path.stat().st_atime_ns + 10**10, path.stat().st_mtime_ns + 10**10))
    assert _codes(_lint(project)) == [[], ["FRZ302"]]


def test_settings_that_change_findings_change_the_key_and_display_settings_do_not():
    base = Settings(root="/project")
    key = configuration_key(base)
    for changed in (
        dataclasses.replace(base, selections=(RuleSelection(select=("FRZ201",)),)),
        dataclasses.replace(base, per_file_ignores=(("tests/*", ("FRZ302",)),)),
        dataclasses.replace(base, freeze_helpers=("project.freeze",)),
        dataclasses.replace(base, full_finetune=("train.py",)),
        dataclasses.replace(base, target_transformers=4),
        dataclasses.replace(base, prefilter=False),
    ):
        assert configuration_key(changed) != key, changed
    for same in (
        dataclasses.replace(base, output_format="json"),
        dataclasses.replace(base, show_fixes=True),
        dataclasses.replace(base, extend_exclude=("build2",)),
        dataclasses.replace(base, root="/elsewhere"),  # entries are keyed below the root: a moved checkout reuses them
    ):
        assert configuration_key(same) == key, same


def test_the_key_follows_the_baseline_content_and_freezelint_code(tmp_path, monkeypatch):
    baseline = tmp_path / "baseline.json"
    baseline.write_text('{"findings": []}')
    settings = Settings(root=str(tmp_path), baseline=str(baseline))
    key = configuration_key(settings)
    baseline.write_text('{"findings": [], "x": 1}')
    assert configuration_key(settings) != key
    key = configuration_key(settings)
    monkeypatch.setattr(cache_module, "_code_fingerprint", lambda: [("rules/frz999_new.py", 1, 1)])
    assert configuration_key(settings) != key


def test_a_corrupt_or_planted_index_is_ignored_and_replaced(project, tmp_path):
    settings = Settings(root=str(project))
    _lint(project, settings)
    index = Path(Cache(str(project / ".freezelint_cache"), settings).path)
    for content in (b"garbage", pickle.dumps((cache_module.FORMAT, {"train.py": "not an entry"})), _planted(tmp_path)):
        index.write_bytes(content)
        assert _codes(_lint(project, settings)) == [[], ["FRZ302"]]
        assert Cache(str(project / ".freezelint_cache"), settings).entries  # rewritten, usable again
    assert not (tmp_path / "planted").exists()


def _planted(tmp_path: Path) -> bytes:
    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'planted'}",))

    return pickle.dumps((cache_module.FORMAT, {"train.py": ((1, 1, 1, 1), b"x", Planted())}))


def test_an_unwritable_cache_is_skipped(project):
    (project / "blocker").write_text("a file where the cache directory should be")
    completed = run_cli(".", "--cache-dir", "blocker/cache", "--fail-on", "note", cwd=project)
    assert completed.returncode == 1 and completed.stderr == "", completed.stderr
    assert "train.py:4:1: FRZ302" in completed.stdout


def test_no_cache_writes_nothing_and_the_cli_writes_in_the_project_root(project):
    assert run_cli(".", "--no-cache", cwd=project).returncode == 0
    assert not (project / ".freezelint_cache").exists()
    (project / "src").mkdir()
    (project / "src" / "a.py").write_text(PREMISE)
    assert run_cli("src", cwd=project).returncode == 0
    assert (project / ".freezelint_cache" / ".gitignore").exists()


def test_the_same_file_named_differently_gets_its_own_path_in_the_output(project):
    first = run_cli("train.py", "--output-format", "concise", cwd=project)
    second = run_cli("./train.py", "--output-format", "concise", cwd=project)
    third = run_cli(str(project / "train.py"), "--output-format", "concise", cwd=ROOT)
    assert first.stdout.startswith("train.py:4:1: FRZ302")
    assert second.stdout == first.stdout
    assert third.stdout.startswith(f"{project / 'train.py'}:4:1: FRZ302")


def test_runs_sharing_the_cache_at_the_same_time_all_report_correctly(project):
    for index in range(12):
        (project / f"m{index}.py").write_text(PREMISE if index % 2 else FROZEN)
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "freezelint", ".", "--output-format", "concise", "--select"]
    runs = [subprocess.Popen([*command, select], cwd=project, env=env, stdout=subprocess.PIPE, text=True) for select in ("FRZ3", "FRZ3", "ALL", "FRZ3")]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    expected = run_cli(".", "--output-format", "concise", "--no-cache", cwd=project).stdout
    assert outputs[0] == outputs[1] == outputs[3] == expected
    assert run_cli(".", "--output-format", "concise", "--select", "FRZ3", cwd=project).stdout == expected


def test_notebooks_and_errors_are_cached_with_what_they_need(tmp_path):
    notebook = FIXTURES / "notebooks" / "full_finetune_across_cells.ipynb"
    (tmp_path / "nb.ipynb").write_bytes(notebook.read_bytes())
    (tmp_path / "broken.py").write_text("model = AutoModel.from_pretrained('x'); trainer = Trainer(model)\ndef f(:\n")
    first = run_cli(".", "--output-format", "concise", cwd=tmp_path)
    second = run_cli(".", "--output-format", "concise", cwd=tmp_path)
    assert "nb.ipynb:cell 5:2:1: FRZ302" in first.stdout
    assert "broken.py: error: syntax error at line 2" in first.stderr
    assert (second.stdout, second.stderr, second.returncode) == (first.stdout, first.stderr, first.returncode)


def test_a_warm_run_and_version_do_not_import_the_analysis(project):
    assert run_cli(".", cwd=project).returncode == 0
    probe = (
        "import sys\nfrom freezelint.cli import main\n"
        "try:\n    main(sys.argv[1:], prog_name='freezelint')\nexcept SystemExit:\n    pass\n"
        "print('libcst' in sys.modules, file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for args in ([".", "-q"], ["--version"]):
        completed = subprocess.run([sys.executable, "-c", probe, *args], cwd=project, env=env, capture_output=True, text=True)
        assert completed.stderr.strip() == "False", (args, completed.stderr)


def test_fix_never_reads_the_cache_and_the_next_run_sees_the_fixed_file(tmp_path):
    source = (FIXTURES / "FRZ101" / "whole_model.py").read_text()
    (tmp_path / "encoder.py").write_text(source)
    assert "FRZ101" in run_cli(".", "--output-format", "concise", cwd=tmp_path).stdout  # cached: FRZ101
    fixed = run_cli(".", "--fix", "--unsafe-fixes", "--output-format", "concise", cwd=tmp_path)
    assert "FRZ101" not in fixed.stdout, fixed.stdout + fixed.stderr
    assert (tmp_path / "encoder.py").read_text() != source
    again = run_cli(".", "--output-format", "concise", cwd=tmp_path)
    assert "FRZ101" not in again.stdout and again.returncode == 0, again.stdout
