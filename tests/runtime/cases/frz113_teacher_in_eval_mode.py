"""A distillation teacher put in eval mode and never frozen: its parameters still require grad, so backward()
computes gradients for it on every step."""
import torch
from transformers import AutoModelForSequenceClassification

teacher = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
teacher.eval()  # expect-runtime: FRZ113 confirmed
student = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)  # expect-runtime: FRZ302 confirmed
optimizer = torch.optim.AdamW(student.parameters(), lr=2e-5)
for batch in train_loader:
    soft = teacher(**batch).logits.softmax(-1)
    loss = torch.nn.functional.kl_div(student(**batch).logits.log_softmax(-1), soft, reduction="batchmean")
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
