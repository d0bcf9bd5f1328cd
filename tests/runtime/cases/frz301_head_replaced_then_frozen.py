"""The new head is created first, then everything is frozen, the new head included."""
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.classifier = nn.Linear(model.config.hidden_size, 5)
for param in model.parameters():
    param.requires_grad = False  # expect-runtime: FRZ301 confirmed
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # expect-runtime: FRZ201 confirmed
for batch in train_loader:
    model(**batch).loss.backward()
    optimizer.step()
