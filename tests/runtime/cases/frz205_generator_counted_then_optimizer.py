"""The trainable parameters are counted through a `filter`, which leaves nothing for the optimizer."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad_(False)
params = filter(lambda p: p.requires_grad, model.parameters())
print("trainable:", sum(p.numel() for p in params))
optimizer = torch.optim.AdamW(params, lr=1e-3)  # expect-runtime: FRZ205 confirmed
