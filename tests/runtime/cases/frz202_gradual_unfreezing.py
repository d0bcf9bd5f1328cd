"""The optimizer gets the trainable parameters; a layer unfrozen in epoch 2 never reaches it."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad_(False)
optimizer = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
for epoch in range(3):
    if epoch == 1:
        for param in model.bert.encoder.layer[-1].parameters():
            param.requires_grad = True  # expect-runtime: FRZ202 confirmed
    for batch in train_loader:
        model(**batch).loss.backward()
        optimizer.step()
