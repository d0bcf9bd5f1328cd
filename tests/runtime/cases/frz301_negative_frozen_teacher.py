"""A frozen teacher is not trained: nothing to report about it; the student trains fully."""
import torch
from transformers import AutoModelForSequenceClassification

teacher = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
teacher.requires_grad_(False)
teacher.eval()
student = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)  # expect-runtime: FRZ302 confirmed
optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
for batch in train_loader:
    with torch.no_grad():
        targets = teacher(**batch).logits
    loss = torch.nn.functional.mse_loss(student(**batch).logits, targets)
    loss.backward()
    optimizer.step()
