"""Pre-filter tokens: strings a file must contain for a rule to fire (`tokens=` of rules, `freezelint.prefilter`)."""

from __future__ import annotations

from freezelint.knowledge.training import OPTIMIZER_TOKENS, TRAINERS

# A trainer built (`TrainerBuild`, so `TrainCall`): a known trainer class, a TRL `*Trainer`, or a subclass of one.
TRAINER_TOKENS = tuple(sorted({"Trainer"} | {n.rsplit(".", 1)[-1] for n in TRAINERS if "Trainer" not in n}))  # TRL: `*Trainer`


# A model trained (`Facts.training_of`): by a trainer, or by an optimizer that steps or sits beside `backward()`.
TRAINING_TOKENS = tuple(sorted({*TRAINER_TOKENS, *OPTIMIZER_TOKENS}))
