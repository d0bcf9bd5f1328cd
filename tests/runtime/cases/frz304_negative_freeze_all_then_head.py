"""Freezes everything, then deliberately unfreezes the (tied) head: both sides train, as written."""
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2")
model.requires_grad_(False)
model.lm_head.requires_grad_(True)
Trainer(model=model, args=TrainingArguments("out")).train()
