# `.data` and `.detach()` are new tensor objects: requires_grad set on them never reaches the parameter.
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.embeddings.word_embeddings.weight.data.requires_grad = False
for param in model.bert.encoder.layer[0].parameters():
    param.detach().requires_grad_(False)
for param in model.bert.pooler.parameters():
    param.data.requires_grad_(False)
