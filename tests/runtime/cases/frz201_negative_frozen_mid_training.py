"""Layers frozen mid-training, gradients dropped: the static note holds, but nothing is reported at runtime on top."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)  # expect-runtime: FRZ201 confirmed
for epoch in range(4):
    if epoch == 2:
        for param in model.bert.parameters():
            param.requires_grad = False
            param.grad = None
    for batch in train_loader:
        model(**batch).loss.backward()
        optimizer.step()
