"""`"encoder.layer.1"` also matches layers 10 and 11 of a 12-layer BERT."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for name, param in model.named_parameters():
    if "encoder.layer.0" in name or "encoder.layer.1" in name:  # expect-runtime: FRZ108 confirmed
        param.requires_grad = False
Trainer(model=model, args=TrainingArguments("out")).train()
