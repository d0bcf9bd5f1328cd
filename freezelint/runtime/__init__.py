"""freezelint's runtime mode: the only part of freezelint that imports torch and transformers (the `runtime` extra).

* `freezelint --runtime train.py` builds each model the script loads on the meta device (real architecture, no
  weights, offline), replays the statements that decide what trains, and confirms or refutes every finding
  (`freezelint.runtime.command`). The replay runs in a sandbox (`freezelint.runtime.sandbox`, with the audit hook of
  `freezelint.runtime.audit`), never in the linting process.
* `FreezelintCallback` (a transformers `TrainerCallback`) and `guard(model, optimizer)` (a context manager for custom
  loops) watch a real training run (`freezelint.runtime.training_guard`).

Importing this package is cheap: torch is imported by what needs it.
"""

from __future__ import annotations

import importlib.util
from typing import Any

INSTALL_HINT = 'the runtime mode needs torch and transformers: pip install "freezelint[runtime]"'
_GUARD_NAMES = ("FreezelintCallback", "FreezeGuard", "guard", "NothingTrainableError", "GuardFinding")


def missing_dependencies() -> list[str]:
    """The runtime packages that cannot be imported here."""
    missing = []
    for name in ("torch", "transformers"):
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):  # a broken install, or a module set to None
            missing.append(name)
    return missing


def __getattr__(name: str) -> Any:
    if name in _GUARD_NAMES:
        from freezelint.runtime import training_guard

        return getattr(training_guard, name)
    raise AttributeError(f"module 'freezelint.runtime' has no attribute {name!r}")


__all__ = ["INSTALL_HINT", "missing_dependencies", *_GUARD_NAMES]
