"""A new head assigned after the optimizer was built: its weights are in no optimizer and keep their random values."""
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)  # expect-runtime: FRZ302 confirmed
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)  # expect-runtime: FRZ204 confirmed
model.classifier = nn.Linear(model.config.hidden_size, 5)
for batch in train_loader:
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
