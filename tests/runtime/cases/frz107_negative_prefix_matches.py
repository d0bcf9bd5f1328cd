"""The prefix exists on this architecture: the filter works."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for name, param in model.named_parameters():
    if name.startswith("bert.embeddings"):
        param.requires_grad = False
Trainer(model=model, args=TrainingArguments("out")).train()
