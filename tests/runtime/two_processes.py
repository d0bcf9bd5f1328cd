"""Run snippets the way `torchrun --nproc_per_node 2` would, on CPU with the gloo backend, in one short-lived pair of
processes.

Starting two processes that import torch costs several seconds, so a test module hands all its snippets to
`run_on_two_processes` at once. Each snippet runs in both processes (in a fresh namespace, after
`torch.manual_seed(0)`), then its probe (harness code, not linted) reads the namespace into `result`. Rank 0 reports,
per snippet, the exception the snippet raised (as `"Type: message"`) or None, and the probe's `result`.
The process group is set up through a file, so no port has to be free, and every collective has a time limit (60 s),
as has the whole run.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import textwrap
import traceback
import warnings

import pytest
import torch
import torch.multiprocessing as mp

WORLD_SIZE = 2
TIMEOUT = 240  # seconds for the whole run: importing torch twice on a busy machine is most of it


def available() -> str | None:
    """Why the two-process tests cannot run here, or None."""
    import torch.distributed as dist

    if not dist.is_available():
        return "torch.distributed is not available in this build"
    if not dist.is_gloo_available():
        return "the gloo backend is not available in this build"
    return None


def run_on_two_processes(scenarios: dict[str, tuple[str, str]]) -> dict[str, dict]:
    """Run each `name: (snippet, probe)` on two ranks; returns `{name: {"error": str | None, "result": object}}`
    as rank 0 saw it. Skips the calling test when the environment cannot run distributed code."""
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    context = mp.get_context("spawn")
    queue = context.SimpleQueue()
    with tempfile.TemporaryDirectory(prefix="freezelint-dist-") as directory:
        store = os.path.join(directory, "store")
        processes = [
            context.Process(target=_worker, args=(rank, store, scenarios, queue), daemon=True) for rank in range(WORLD_SIZE)
        ]
        for process in processes:
            process.start()
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=TIMEOUT)
        for process in processes:
            process.join(max(1.0, (deadline - datetime.datetime.now()).total_seconds()))
        hung = [process for process in processes if process.is_alive()]
        for process in hung:
            process.kill()
            process.join()
        if hung:
            pytest.fail(f"the two-process run did not finish within {TIMEOUT}s")
        if queue.empty():
            codes = [process.exitcode for process in processes]
            pytest.fail(f"the two-process run reported nothing (exit codes {codes})")
        outcome = queue.get()
    if isinstance(outcome, str):
        pytest.fail(f"the two-process harness failed:\n{outcome}")
    return outcome


def _worker(rank: int, store: str, scenarios: dict[str, tuple[str, str]], queue) -> None:
    import torch.distributed as dist

    try:
        # What a launcher sets (accelerate reads it to decide that it runs distributed, on CPU).
        os.environ.update(
            RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), LOCAL_WORLD_SIZE=str(WORLD_SIZE),
            MASTER_ADDR="127.0.0.1", MASTER_PORT="0", OMP_NUM_THREADS="1",
        )
        torch.set_num_threads(1)
        dist.init_process_group(
            "gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD_SIZE, timeout=datetime.timedelta(seconds=60)
        )
        outcomes: dict[str, dict] = {}
        for name, (snippet, probe) in scenarios.items():
            names: dict = {"__name__": f"snippet_{name}"}
            error = None
            torch.manual_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    exec(compile(textwrap.dedent(snippet), f"<{name}>", "exec"), names)
                except Exception as exc:  # the consequence under test: recorded, not raised
                    error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                if probe and error is None:
                    exec(compile(textwrap.dedent(probe), f"<{name} probe>", "exec"), names)
            outcomes[name] = {"error": error, "result": names.get("result")}
        dist.barrier()
        if rank == 0:
            queue.put(outcomes)
        dist.destroy_process_group()
    except Exception:
        if rank == 0:
            queue.put(traceback.format_exc())
