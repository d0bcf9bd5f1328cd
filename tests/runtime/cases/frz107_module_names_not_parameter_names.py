"""Compares parameter names with module names: parameter names end in `.weight`/`.bias`, so nothing matches."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for name, param in model.named_parameters():
    if name in ["bert.embeddings", "bert.encoder"]:  # expect-runtime: FRZ107
        param.requires_grad = False
Trainer(model=model, args=TrainingArguments("out")).train()
