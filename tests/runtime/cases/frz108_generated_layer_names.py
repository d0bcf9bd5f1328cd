"""`f"encoder.layer.{i}"` for `i in range(2)` also matches layers 10 and 11 of a 12-layer BERT: the patterns a range
generates are checked like written ones."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for name, param in model.named_parameters():
    if any(f"encoder.layer.{i}" in name for i in range(2)):  # expect-runtime: FRZ108 confirmed
        param.requires_grad = False
Trainer(model=model, args=TrainingArguments("out")).train()
