"""The project's model class freezes its encoder in __init__, in another module: only the replay sees it."""
from support.frozen_models import FrozenEncoderClassifier
from transformers import Trainer, TrainingArguments

model = FrozenEncoderClassifier.from_pretrained("bert-base-uncased", num_labels=2)  # expect-runtime: FRZ302 refuted
Trainer(model=model, args=TrainingArguments("out")).train()
