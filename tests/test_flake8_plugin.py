"""The real flake8 runs freezelint as a plugin (`flake8 --select FRZ`), through the entry point pyproject declares,
and reports exactly what `freezelint --output-format concise` reports: the same path, settings and `# noqa`."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from cli_helpers import FIXTURES, ROOT, run_cli

pytest.importorskip("flake8")


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """A dist-info carrying the entry points pyproject.toml declares, as `pip install` would write it, so that flake8
    finds this checkout's plugin (and not another installed copy)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["flake8.extension"]
    assert entry_points == {"FRZ": "freezelint.flake8_plugin:Flake8Plugin"}
    site = tmp_path_factory.mktemp("site")
    info = site / "freezelint-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: freezelint\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[flake8.extension]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    return os.pathsep.join([str(ROOT), str(site)])


def flake8(plugin_path: str, *args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=plugin_path)
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "FRZ", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_flake8_reports_what_freezelint_reports(plugin_path):
    paths = ["fixtures/FRZ201", "fixtures/FRZ302/article_premise.py", "fixtures/article"]
    completed = flake8(plugin_path, *paths)
    assert completed.returncode == 1, completed.stderr
    ours = run_cli(*paths, "--output-format", "concise", "--quiet").stdout.splitlines()
    assert len(ours) > 5
    assert sorted(completed.stdout.splitlines()) == sorted(ours)


def test_flake8_honours_noqa_and_the_project_settings(plugin_path, tmp_path):
    text = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
    (tmp_path / "silenced.py").write_text(text.replace("# expect: FRZ302", "# noqa: FRZ302"))
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "ignored.py").write_text(text)
    (tmp_path / "reported.py").write_text(text)
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint.per-file-ignores]\n"scripts/*" = ["FRZ302"]\n')
    completed = flake8(plugin_path, ".", cwd=tmp_path)
    ours = run_cli(".", "--output-format", "concise", "--quiet", cwd=tmp_path).stdout.splitlines()
    assert [line.removeprefix("./") for line in completed.stdout.splitlines()] == ours
    assert [line.split(":")[0] for line in ours] == ["reported.py"]
