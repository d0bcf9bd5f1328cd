"""## What it does
Finds `freeze_feature_extractor()` called on a wav2vec2-family model (Wav2Vec2, HuBERT, WavLM, Data2VecAudio, SEW,
SEW-D, UniSpeech, UniSpeechSat, Wav2Vec2-Conformer). It is an error when the project targets transformers 5 and a
note when it targets transformers 4 (`target-transformers` in the configuration, else the project's requirements).

## Why is this bad?
transformers 4 deprecated `freeze_feature_extractor()` in favour of `freeze_feature_encoder()` (same effect, a
`FutureWarning`), and transformers 5 removed it: the call raises `AttributeError` before training starts, after the
model was loaded. Fine-tuning scripts from the transformers 4 era (the wav2vec2 CTC examples, many blog posts) still
call it.

## Example
```python
model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base", ctc_loss_reduction="mean")
model.freeze_feature_extractor()
```

Use instead:
```python
model.freeze_feature_encoder()
```

It stays silent when the file defines a `freeze_feature_extractor` method of its own, and on objects it cannot tell
are wav2vec2-family models (unless the file imports one of those classes from transformers).

## Fix safety
The fix renames the call to `freeze_feature_encoder()`. It is safe: the new name exists on both transformers 4 and 5
and freezes the same convolutional feature encoder.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the call fails in the replay because the
installed transformers no longer has the method, refuted when the call runs (transformers 4).

## References
- transformers 4.57.6 `models/wav2vec2/modeling_wav2vec2.py`, `freeze_feature_extractor`: warns "The method
  `freeze_feature_extractor` is deprecated and will be removed in Transformers v5" and calls `freeze_feature_encoder`
  (the rename of huggingface/transformers PR #14959); in transformers 5.25 only `freeze_feature_encoder` is left.
- tests/runtime/test_library_rules_runtime.py,
  `test_frz112_freeze_feature_extractor_is_gone_and_the_renamed_call_freezes_the_encoder` (`AttributeError` on
  transformers 5; the renamed call freezes the feature encoder, and the transformer layers stay trainable).
- huggingface/transformers#35483 (Wav2Vec2-BERT has no `freeze_feature_encoder`; use `freeze_base_model` there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import UNKNOWN, Facts, FreezeForm, FreezeOp, ModelSource, ModuleRef, Unknown, Value, group_by_node
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

REMOVED = (
    "`{method}()` was removed in transformers {removed_in}: `{receiver}.{method}()` raises `AttributeError` before "
    "training starts. Call `{receiver}.{replacement}()`, which freezes the same convolutional feature encoder."
)
DEPRECATED = (
    "`{method}()` is deprecated (transformers 4 warns and calls `{replacement}()`) and removed in transformers "
    "{removed_in}, where it raises `AttributeError`. Call `{receiver}.{replacement}()`."
)


@rule("FRZ112", "removed-freeze-feature-extractor", Level.ERROR, fix=Applicability.SAFE, tokens=tuple(knowledge.REMOVED_METHODS))
def removed_freeze_feature_extractor(facts: Facts) -> Iterator[Report]:
    calls = [op for op in facts.of(FreezeOp, uncalled=True) if op.form is FreezeForm.HELPER and op.attribute in knowledge.REMOVED_METHODS]
    target = facts.options.target_transformers
    for group in group_by_node(calls):
        op = group[0]
        call = op.node
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
            continue
        if not all(_wav2vec2_family(facts, o) for o in group):
            continue
        replacement, removed_in = knowledge.REMOVED_METHODS[op.attribute]
        fields = {"method": op.attribute, "removed_in": removed_in, "receiver": facts.code(call.func.value), "replacement": replacement}
        if target >= removed_in:
            message = Message(REMOVED, fields)
            level = Level.ERROR
        else:
            message = Message(DEPRECATED, fields)
            level = Level.NOTE
        fix = FixProposal(Applicability.SAFE, f"Call `{replacement}()`", (Replacement(call.func.attr, cst.Name(replacement)),))
        yield Report(call, message, fix=fix, level=level)


def _wav2vec2_family(facts: Facts, op: FreezeOp) -> bool:
    """The receiver is a wav2vec2-family model, or an object of unknown type in a file that imports one."""
    target: Value = op.target
    if isinstance(target, ModuleRef) and target.model.source is ModelSource.UNSEEN and not target.path:
        target = UNKNOWN  # a model made by code the analysis cannot see: judged as an object of unknown type
    if isinstance(target, ModuleRef):
        model = target.model
        name = model.class_name or ""
        if target.path or model.library != "transformers":
            return False
        if knowledge.WAV2VEC2_FAMILY.match(name):
            return True
        checkpoint = model.checkpoint or ""
        return name in knowledge.WAV2VEC2_AUTO_CLASSES and bool(knowledge.WAV2VEC2_CHECKPOINT.search(checkpoint))
    if isinstance(target, Unknown):
        return any(
            qualname.startswith("transformers.") and knowledge.WAV2VEC2_FAMILY.match(qualname.rsplit(".", 1)[-1])
            for qualname in facts.imports
        )
    return False


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ112")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the call fails in the replay because the installed transformers no longer has the method."""
    failure = view.state.failure_at(finding.row)
    if failure is not None and failure.kind == "AttributeError" and "freeze_feature_extractor" in failure.message:
        return Verdict(CONFIRMED, f"line {finding.row} failed in the replay: {failure.describe()}")
    if failure is not None:
        return Verdict(NOT_CHECKABLE, view.state.describe_failure(failure))
    if (stopped := view.not_run(finding)) is not None:
        return stopped
    return Verdict(REFUTED, f"line {finding.row} ran: the installed transformers still has `freeze_feature_extractor`")
