"""Custom word vectors loaded as a new `nn.Parameter` after the embeddings were frozen: the new weight trains."""
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.embeddings.requires_grad_(False)
model.bert.embeddings.word_embeddings.weight = nn.Parameter(torch.zeros(100, 32))  # expect-runtime: FRZ110 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
