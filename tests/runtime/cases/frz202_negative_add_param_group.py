"""The unfrozen layer is handed to the optimizer: it trains."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad_(False)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
for epoch in range(3):
    if epoch == 1:
        layer = model.bert.encoder.layer[-1]
        layer.requires_grad_(True)
        optimizer.add_param_group({"params": list(layer.parameters()), "lr": 1e-4})
    for batch in train_loader:
        model(**batch).loss.backward()
        optimizer.step()
