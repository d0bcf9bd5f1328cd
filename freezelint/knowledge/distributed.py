"""Distributed training and compilation: DDP, FSDP, DeepSpeed, accelerate, Fabric, torch.compile."""

from __future__ import annotations

WRAPPERS = {
    "torch.nn.parallel.DistributedDataParallel": "ddp",
    "torch.nn.parallel.distributed.DistributedDataParallel": "ddp",
    "torch.nn.DataParallel": "dp",
    "torch.nn.parallel.DataParallel": "dp",
    "torch.distributed.fsdp.FullyShardedDataParallel": "fsdp",
    "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel": "fsdp",
    "torch.distributed.fsdp.fully_shard": "fsdp2",
    "torch.distributed._composable.fsdp.fully_shard": "fsdp2",
    "torch.compile": "compile",
}


# Calls that return their model arguments wrapped, in the same positions (accelerate, fabric, deepspeed).
PREPARE_METHODS = {"prepare": "accelerate", "prepare_model": "accelerate", "setup": "fabric"}


DEEPSPEED_INITIALIZE = "deepspeed.initialize"


# Wrap kinds (WRAPPERS, PREPARE_METHODS) that put a model in DistributedDataParallel: `DDP(...)` itself, and
# `accelerator.prepare` / `fabric.setup` when the script is launched on several processes.
DDP_WRAP_KINDS = frozenset({"ddp", "accelerate", "fabric"})


DDP_TOKENS = ("DistributedDataParallel", "prepare", "setup")


# ... and `prepare`/`setup` only wrap on an object of those libraries, which the file then imports.
DDP_LIBRARY_TOKENS = ("DistributedDataParallel", "accelerate", "lightning")


# Keyword arguments (of DDP, accelerate's `DistributedDataParallelKwargs`, Lightning's `DDPStrategy`) under which DDP
# tolerates a parameter that requires grad and gets no gradient: measured on torch 2.13, DDP with either one trains
# a model frozen after the wrap, or run partly under `no_grad`, without the reduction error.
DDP_UNUSED_TOLERANT_KEYWORDS = ("find_unused_parameters", "static_graph")


# Lightning strategy names that turn `find_unused_parameters` on (`"ddp_find_unused_parameters_true"`,
# `"ddp_spawn_find_unused_parameters_true"`...) contain this.
DDP_UNUSED_TOLERANT_STRATEGY = "find_unused_parameters_true"


DDP_UNUSED_ERROR = "RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one"


# FullyShardedDataParallel (FSDP1) flattens each wrapped unit into one FlatParameter unless `use_orig_params=True`.
FSDP1_MIXED_ERROR = "ValueError: Must flatten tensors with uniform requires_grad when use_orig_params=False"


# `torch._dynamo.config.recompile_limit` (torch 2.13): distinct compiled versions of one frame before dynamo stops
# compiling it and runs it eagerly.
COMPILE_RECOMPILE_LIMIT = 8
