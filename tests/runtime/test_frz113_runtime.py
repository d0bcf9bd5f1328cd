"""FRZ113 at run time, on a tiny real teacher and student: `.eval()` does not stop autograd, so every backward
through the teacher's output fills its weights' `.grad` (and adds to it, since the student's optimizer does not zero
it); `requires_grad_(False)` or `torch.no_grad()` computes none. The weights themselves never change."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _models() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.Linear(16, 4))
    student = nn.Sequential(nn.Linear(8, 4))
    return teacher, student


def _distil(teacher: nn.Module, student: nn.Module, steps: int, no_grad: bool = False) -> list[float]:
    """Run the distillation loop; the norm of the teacher's first weight gradient after each step (0 when none)."""
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    norms = []
    for step in range(steps):
        inputs = torch.randn(32, 8, generator=torch.Generator().manual_seed(step))
        with torch.set_grad_enabled(not no_grad):
            target = teacher(inputs)
        loss = F.mse_loss(student(inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        grad = teacher[0].weight.grad
        norms.append(0.0 if grad is None else float(grad.norm()))
    return norms


def test_a_teacher_in_eval_mode_still_computes_and_accumulates_weight_gradients() -> None:
    teacher, student = _models()
    teacher.eval()
    before = teacher[0].weight.detach().clone()
    norms = _distil(teacher, student, steps=4)
    assert all(norm > 0 for norm in norms)
    assert norms == sorted(norms) and norms[-1] > norms[0] * 1.5, "the teacher's gradients pile up step after step"
    assert torch.equal(teacher[0].weight, before), "no optimizer holds the teacher: its weights never change"


def test_frozen_or_under_no_grad_the_teacher_computes_no_gradient() -> None:
    teacher, student = _models()
    teacher.eval()
    teacher.requires_grad_(False)
    assert _distil(teacher, student, steps=3) == [0.0, 0.0, 0.0]
    teacher, student = _models()
    teacher.eval()
    assert _distil(teacher, student, steps=3, no_grad=True) == [0.0, 0.0, 0.0]
