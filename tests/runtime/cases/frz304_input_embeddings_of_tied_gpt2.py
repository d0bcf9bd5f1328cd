"""Freezing GPT-2's input embeddings also freezes its tied LM head."""
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2")
model.get_input_embeddings().requires_grad_(False)  # expect-runtime: FRZ304
Trainer(model=model, args=TrainingArguments("out")).train()
