"""A new optimizer for every stage: what one stage unfreezes, the next stage's optimizer gets."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad_(False)
for depth in range(1, 4):
    optimizer = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()), lr=2e-5)
    for batch in train_loader:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.bert.encoder.layer[-depth].requires_grad_(True)
