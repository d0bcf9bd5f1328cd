"""The runtime tests replay training code on real (tiny) models: without torch each of their modules is reported as
skipped, with the reason, instead of failing to import."""

from __future__ import annotations

from pathlib import Path

import pytest


class RuntimeTestModule(pytest.Module):
    def collect(self):
        # At collection, not when this conftest is imported: with tests/runtime named on the command line it is
        # imported before collection starts, and a skip raised then would stop pytest itself.
        pytest.importorskip("torch", reason="the runtime tests need torch: pip install 'freezelint[runtime]'")
        return super().collect()


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module:
    return RuntimeTestModule.from_parent(parent, path=module_path)
