"""FRZ504, FRZ505, FRZ506 on two real processes (gloo, CPU): what DDP and FSDP do with flags changed at the wrong
time, or left on, as the messages say, and that the fixed snippets train.

All snippets run in one pair of processes (`two_processes.run_on_two_processes`), started once for the module."""

from __future__ import annotations

import pytest
from snippets import codes
from two_processes import run_on_two_processes

from freezelint import fix_text, knowledge

DDP_SETUP = """
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
"""
TRAIN = """
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
generator = torch.Generator().manual_seed(dist.get_rank())
for step in range(3):
    optimizer.zero_grad()
    ddp_model(torch.randn(8, 4, generator=generator)).sum().backward()
    optimizer.step()
"""
# Harness code, not linted: how far the first layer moved, and how far apart the two processes' copies are.
FIRST_LAYER = """
import torch.distributed as dist
weight = model[0].weight.detach().clone()
copies = [torch.zeros_like(weight) for _ in range(dist.get_world_size())]
dist.all_gather(copies, weight)
result = {"moved": (weight - start).abs().max().item(), "apart": (copies[0] - copies[1]).abs().max().item()}
"""
START = "start = model[0].weight.detach().clone()\n"

FREEZE_AFTER_WRAP = (
    DDP_SETUP + "ddp_model = DistributedDataParallel(model{options})\nmodel[0].requires_grad_(False)\n" + START + TRAIN
)
FREEZE_BEFORE_WRAP = DDP_SETUP + "model[0].requires_grad_(False)\nddp_model = DistributedDataParallel(model)\n" + START + TRAIN
UNFREEZE_AFTER_WRAP = (
    DDP_SETUP + "model[0].requires_grad_(False)\nddp_model = DistributedDataParallel(model{options})\n"
    "model[0].requires_grad_(True)\n" + START + TRAIN
)
UNFREEZE_BEFORE_WRAP = (
    DDP_SETUP + "model[0].requires_grad_(False)\nmodel[0].requires_grad_(True)\nddp_model = DistributedDataParallel(model)\n"
    + START + TRAIN
)
ACCELERATE_FREEZE_AFTER_PREPARE = """
import torch
import torch.nn as nn
from accelerate import Accelerator

accelerator = Accelerator(cpu=True)
model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
optimizer = torch.optim.SGD([p for p in model.parameters()], lr=0.1)
ddp_model, optimizer = accelerator.prepare(model, optimizer)
model[0].requires_grad_(False)
for step in range(3):
    optimizer.zero_grad()
    accelerator.backward(ddp_model(torch.randn(8, 4)).sum())
    optimizer.step()
"""
ACCELERATE_WRAPPED = "result = type(ddp_model).__name__\n"

NO_GRAD_BACKBONE = """
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.head = nn.Linear(4, 1){freeze}

    def forward(self, x):
        {forward}
        return self.head(features)


model = Net()
ddp_model = DistributedDataParallel(model{options})
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    optimizer.zero_grad()
    ddp_model(torch.randn(8, 4)).sum().backward()
    optimizer.step()
"""
UNDER_NO_GRAD = "with torch.no_grad():\n            features = self.backbone(x)"
DETACHED = "features = self.backbone(x).detach()"
ALSO_FROZEN = "\n        self.backbone.requires_grad_(False)"


def no_grad_backbone(forward: str = UNDER_NO_GRAD, freeze: str = "", options: str = "") -> str:
    return NO_GRAD_BACKBONE.format(forward=forward, freeze=freeze, options=options)


FSDP_PARTLY_FROZEN = """
import torch
import torch.nn as nn
from torch.distributed.fsdp import FullyShardedDataParallel

model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
model[0].requires_grad_(False)
start = [p.detach().clone() for p in model.parameters()]
sharded = FullyShardedDataParallel(model, device_id=torch.device("cpu"))
optimizer = torch.optim.SGD([p for p in sharded.parameters() if p.requires_grad], lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    sharded(torch.randn(8, 4)).sum().backward()
    optimizer.step()
"""
FSDP_FIXED = fix_text(FSDP_PARTLY_FROZEN)
FSDP_MOVED = """
from torch.distributed.fsdp import FullyShardedDataParallel
with FullyShardedDataParallel.summon_full_params(sharded):
    result = [(p.detach() - s).abs().max().item() for p, s in zip(model.parameters(), start)]
"""

SCENARIOS = {
    "freeze_after_wrap": (FREEZE_AFTER_WRAP.format(options=""), ""),
    "freeze_after_wrap_find_unused": (FREEZE_AFTER_WRAP.format(options=", find_unused_parameters=True"), FIRST_LAYER),
    "freeze_after_wrap_static_graph": (FREEZE_AFTER_WRAP.format(options=", static_graph=True"), FIRST_LAYER),
    "freeze_before_wrap": (FREEZE_BEFORE_WRAP, FIRST_LAYER),
    "unfreeze_after_wrap": (UNFREEZE_AFTER_WRAP.format(options=""), FIRST_LAYER),
    "unfreeze_after_wrap_find_unused": (UNFREEZE_AFTER_WRAP.format(options=", find_unused_parameters=True"), FIRST_LAYER),
    "unfreeze_before_wrap": (UNFREEZE_BEFORE_WRAP, FIRST_LAYER),
    "accelerate_freeze_after_prepare": (ACCELERATE_FREEZE_AFTER_PREPARE, ""),
    "no_grad_backbone": (no_grad_backbone(), ""),
    "detached_backbone": (no_grad_backbone(DETACHED), ""),
    "no_grad_backbone_frozen": (no_grad_backbone(freeze=ALSO_FROZEN), ""),
    "no_grad_backbone_find_unused": (no_grad_backbone(options=", find_unused_parameters=True"), ""),
    "no_grad_backbone_static_graph": (no_grad_backbone(options=", static_graph=True"), ""),
    "fsdp_partly_frozen": (FSDP_PARTLY_FROZEN, ""),
    "fsdp_use_orig_params": (FSDP_FIXED, FSDP_MOVED),
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    return run_on_two_processes(SCENARIOS)


def snippet(name: str) -> str:
    return SCENARIOS[name][0]


# --- FRZ504 -----------------------------------------------------------------------------------------------------------


def test_freezing_after_the_ddp_wrap_fails_on_the_next_iteration(outcomes):
    assert "FRZ504" in codes(snippet("freeze_after_wrap"))
    assert knowledge.DDP_UNUSED_ERROR in outcomes["freeze_after_wrap"]["error"]


def test_freezing_after_prepare_fails_the_same_way_under_accelerate(outcomes):
    assert "FRZ504" in codes(snippet("accelerate_freeze_after_prepare"))
    assert knowledge.DDP_UNUSED_ERROR in outcomes["accelerate_freeze_after_prepare"]["error"]


@pytest.mark.parametrize("name", ["freeze_after_wrap_find_unused", "freeze_after_wrap_static_graph", "freeze_before_wrap"])
def test_freezes_ddp_tolerates_or_sees_train_and_stay_silent(outcomes, name):
    assert "FRZ504" not in codes(snippet(name))
    outcome = outcomes[name]
    assert outcome["error"] is None
    assert outcome["result"]["moved"] == 0.0, "the frozen layer stays put"
    assert outcome["result"]["apart"] == 0.0


@pytest.mark.parametrize("name", ["unfreeze_after_wrap", "unfreeze_after_wrap_find_unused"])
def test_unfreezing_after_the_wrap_trains_each_replica_apart(outcomes, name):
    assert "FRZ504" in codes(snippet(name))
    outcome = outcomes[name]
    assert outcome["error"] is None, "no error: the replicas drift silently"
    assert outcome["result"]["moved"] > 0.0
    assert outcome["result"]["apart"] > 0.0, "the unfrozen layer's gradients are never averaged"


def test_unfreezing_before_the_wrap_keeps_the_replicas_equal(outcomes):
    assert "FRZ504" not in codes(snippet("unfreeze_before_wrap"))
    outcome = outcomes["unfreeze_before_wrap"]
    assert outcome["error"] is None
    assert outcome["result"]["moved"] > 0.0 and outcome["result"]["apart"] == 0.0


# --- FRZ505 -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no_grad_backbone", "detached_backbone"])
def test_a_backbone_run_without_gradients_fails_under_ddp(outcomes, name):
    assert "FRZ505" in codes(snippet(name))
    assert knowledge.DDP_UNUSED_ERROR in outcomes[name]["error"]


@pytest.mark.parametrize("name", ["no_grad_backbone_frozen", "no_grad_backbone_find_unused", "no_grad_backbone_static_graph"])
def test_a_frozen_or_tolerated_no_grad_backbone_trains_under_ddp(outcomes, name):
    assert "FRZ505" not in codes(snippet(name))
    assert outcomes[name]["error"] is None


def test_a_no_grad_backbone_is_harmless_on_one_process():
    import torch

    names = {"__name__": "single"}
    text = no_grad_backbone().replace("ddp_model = DistributedDataParallel(model)", "ddp_model = model")
    assert "FRZ505" not in codes(text)
    exec(compile(text, "<single>", "exec"), names)
    assert names["model"].backbone.weight.grad is None and isinstance(names["model"].head.weight.grad, torch.Tensor)


# --- FRZ506 -----------------------------------------------------------------------------------------------------------


def test_fsdp1_refuses_a_partly_frozen_unit(outcomes):
    assert "FRZ506" in codes(snippet("fsdp_partly_frozen"))
    assert knowledge.FSDP1_MIXED_ERROR.split(": ", 1)[1] in outcomes["fsdp_partly_frozen"]["error"].replace("`", "")
    assert outcomes["fsdp_partly_frozen"]["error"].startswith("ValueError")


def test_the_fix_use_orig_params_trains_only_the_trainable_layer(outcomes):
    assert "use_orig_params=True" in FSDP_FIXED
    assert "FRZ506" not in codes(FSDP_FIXED)
    outcome = outcomes["fsdp_use_orig_params"]
    assert outcome["error"] is None
    frozen_weight, frozen_bias, head_weight, head_bias = outcome["result"]
    assert frozen_weight == 0.0 and frozen_bias == 0.0
    assert head_weight > 0.0
