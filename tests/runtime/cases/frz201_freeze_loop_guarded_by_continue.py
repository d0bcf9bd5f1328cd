"""Real-code shape: the freeze loop skips the classifier with `continue`. The replay keeps the guard (the slice keeps
the control dependences of what it keeps), so it freezes the encoder and leaves the classifier trainable."""
import torch
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for name, param in model.named_parameters():
    if name.startswith("classifier"):
        continue
    param.requires_grad = False
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # expect-runtime: FRZ201 confirmed
for batch in train_loader:
    model(**batch).loss.backward()
    optimizer.step()
