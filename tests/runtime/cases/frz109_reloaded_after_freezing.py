"""The frozen model is replaced by a fresh copy loaded again: the one that trains has nothing frozen."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for param in model.bert.parameters():
    param.requires_grad = False

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)  # expect-runtime: FRZ109 confirmed, FRZ302 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
