"""Freezes by a BERT prefix, but the checkpoint is RoBERTa: nothing is frozen."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)
for name, param in model.named_parameters():
    if name.startswith("bert.encoder"):  # expect-runtime: FRZ107
        param.requires_grad = False
trainer = Trainer(model=model, args=TrainingArguments("out"), train_dataset=None)
trainer.train()
