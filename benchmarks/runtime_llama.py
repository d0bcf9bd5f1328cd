"""Time and peak memory of `freezelint --runtime` on two Llama-2-7b fine-tuning scripts (the bundled config, on the
meta device): a full fine-tune of the last layers, and a LoRA script (peft, a Trainer, a tokenizer and a collator).

    python benchmarks/runtime_llama.py [--repeat 3] [--script lora]

Not a test: it prints figures, each with the load average measured just before it (the machine's other work slows
everything down; the goal is stated for an idle machine). The goal is under 5 s and under 500 MB for the whole
command (interpreter start, imports, the static check, building the 6.7B-parameter model without weights, replaying
the freezing) on the LoRA script. No tiny-config tricks: the real 7B Llama configuration, the real peft.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPTS = {
    "full": '''
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
''',
    "lora": '''
import torch
from datasets import load_dataset
from peft import LoraConfig, get_peft_model
from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                          TrainingArguments)

base = "meta-llama/Llama-2-7b-hf"
tokenizer = AutoTokenizer.from_pretrained(base)
tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.bfloat16)
lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                  task_type="CAUSAL_LM")
model = get_peft_model(model, lora)
model.print_trainable_parameters()
data = load_dataset("json", data_files="train.jsonl")["train"]
trainer = Trainer(
    model=model,
    args=TrainingArguments(output_dir="out", per_device_train_batch_size=4, num_train_epochs=1, learning_rate=2e-4),
    train_dataset=data,
    data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
)
trainer.train()
''',
}


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run_once(path: Path) -> tuple[float, float, str, str]:
    """Wall time and peak memory (MB, the largest process: freezelint or its replay) of one whole command, its
    output, and the load average just before it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    before = load()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "freezelint", "--runtime", str(path)], stdout=out, stderr=err,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode not in (0, 1):
        raise SystemExit(f"freezelint failed ({process.returncode}):\n{stdout}\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024, stdout, before


def baseline() -> tuple[float, str]:
    """What importing torch and transformers' modeling code costs on this machine right now (no freezelint)."""
    before = load()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, transformers.modeling_utils, transformers.models.llama"], check=True)
    return time.perf_counter() - started, before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--script", choices=[*SCRIPTS, "all"], default="all")
    options = parser.parse_args()
    names = list(SCRIPTS) if options.script == "all" else [options.script]
    print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}")
    for name in names:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / f"finetune_llama_{name}.py"
            path.write_text(SCRIPTS[name])
            runs, imports, output = [], [], ""
            for _ in range(options.repeat):
                elapsed, peak, output, before = run_once(path)
                replay = next((line for line in output.splitlines() if "runtime check: replayed" in line), "")
                runs.append((elapsed, replay.split(" in ")[-1] if replay else "?", peak, before))
                imports.append(baseline())
        print(f"\n== {name}: {path.name}")
        print(output, end="")
        print("wall time of `freezelint --runtime` | the replay itself | peak memory | load average (1, 5, 15 min) before")
        for elapsed, replay_time, peak, before in runs:
            print(f"  {elapsed:.2f} s | {replay_time} | {peak:.0f} MB | {before}")
        best = min(runs)
        print(f"best: {best[0]:.2f} s at load {best[3]}")
        import_times = ", ".join(f"{t:.2f} s (load {b})" for t, b in imports)
        print(f"`import torch, transformers.modeling_utils, transformers.models.llama` alone: {import_times}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
