"""Freezes the transformer to train only the LM head: the head is the tied embedding, so it is frozen too."""
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2")
model.transformer.requires_grad_(False)  # expect-runtime: FRZ304
trainer = Trainer(model=model, args=TrainingArguments("out"))
trainer.train()  # expect-runtime: FRZ301
