"""A helper from a module the replay cannot import may unfreeze the head: no conclusion about the whole model."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

from project_tools import unfreeze_head

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.requires_grad_(False)
unfreeze_head(model)
Trainer(model=model, args=TrainingArguments("out")).train()
