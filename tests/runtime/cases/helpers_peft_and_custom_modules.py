"""Freezing in a helper and in a module's __init__, LoRA on top: nothing to report."""
import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import AutoModel


def freeze_embeddings(model):
    for param in model.embeddings.parameters():
        param.requires_grad = False


class Classifier(nn.Module):
    def __init__(self, checkpoint, num_labels):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(checkpoint)
        freeze_embeddings(self.encoder)
        self.head = nn.Linear(self.encoder.config.hidden_size, num_labels)

    def forward(self, **batch):
        return self.head(self.encoder(**batch).last_hidden_state[:, 0])


def main():
    model = Classifier("bert-base-uncased", num_labels=3)
    lora = get_peft_model(AutoModel.from_pretrained("roberta-base"), LoraConfig(r=4, target_modules=["query", "value"]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad] + list(lora.parameters()), lr=1e-4)
    for batch in train_loader:
        (model(**batch).sum() + lora(**batch).last_hidden_state.sum()).backward()
        optimizer.step()


if __name__ == "__main__":
    main()
