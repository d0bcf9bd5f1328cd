# Loading custom embedding vectors with a new nn.Parameter undoes the freeze of the embeddings.
import torch
import torch.nn as nn
from transformers import AutoModelForSequenceClassification, Trainer

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.embeddings.requires_grad_(False)
vectors = torch.load("domain_vectors.pt")
model.bert.embeddings.word_embeddings.weight = nn.Parameter(vectors, requires_grad=False)
Trainer(model=model, args=training_args, train_dataset=train_dataset).train()
