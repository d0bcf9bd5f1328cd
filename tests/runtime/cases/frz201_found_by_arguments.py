"""Without --train-encoder the encoder stays frozen: the optimizer holds frozen parameters (the static check cannot
tell which branch runs; the replay can)."""
import argparse

import torch
from transformers import AutoModelForSequenceClassification

parser = argparse.ArgumentParser()
parser.add_argument("--train-encoder", action="store_true")
args = parser.parse_args()
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
for param in model.bert.parameters():
    param.requires_grad = False
if args.train_encoder:
    model.bert.requires_grad_(True)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)  # expect-runtime: FRZ201
for batch in train_loader:
    model(**batch).loss.backward()
    optimizer.step()
