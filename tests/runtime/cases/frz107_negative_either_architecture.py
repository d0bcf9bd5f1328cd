"""A filter written for two architectures: one of its names matches, which is enough."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)
for name, param in model.named_parameters():
    if "bert.embeddings" in name or "roberta.embeddings" in name:
        param.requires_grad = False
Trainer(model=model, args=TrainingArguments("out")).train()
