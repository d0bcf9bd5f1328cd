"""Time and peak memory of `freezelint --runtime` on a Llama-2-7b fine-tuning script (bundled config, meta device).

    python benchmarks/runtime_llama.py [--repeat 3]

Not a test: it prints figures. The goal is under 5 s and under 500 MB for the whole command (interpreter start,
imports, the static check, building the 6.7B-parameter model without weights, replaying the freezing).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = '''
import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf", torch_dtype=torch.bfloat16)
model.requires_grad_(False)
for layer in model.model.layers[-2:]:
    layer.requires_grad_(True)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
'''


def run_once(path: Path) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "freezelint", "--runtime", str(path)], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"freezelint failed ({completed.returncode}):\n{completed.stderr}")
    return elapsed, completed.stdout


def baseline() -> float:
    """What importing torch and transformers' modeling code costs on this machine right now (no freezelint)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, transformers.modeling_utils, transformers.models.llama"], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "finetune_llama.py"
        path.write_text(SCRIPT)
        times, imports, output = [], [], ""
        for _ in range(repeat):
            elapsed, output = run_once(path)
            times.append(elapsed)
            imports.append(baseline())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
    replay = next((line for line in output.splitlines() if "runtime check: replayed" in line), "")
    print(output, end="")
    every = ", ".join(f"{t:.2f}" for t in times)
    print(f"\nwall time of `freezelint --runtime` (best of {repeat}): {min(times):.2f} s (all: {every})")
    print(f"peak memory (largest process): {peak_mb:.0f} MB")
    print(f"the replay itself (building the model on the meta device, replaying the freezing): "
          f"{replay.split(' in ')[-1] if replay else '?'}")
    print(f"for comparison, `import torch, transformers.modeling_utils` alone (best of {repeat}): {min(imports):.2f} s")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
