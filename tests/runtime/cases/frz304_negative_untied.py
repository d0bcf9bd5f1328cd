"""Untied weights: freezing the input embeddings leaves the head trainable."""
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2", tie_word_embeddings=False)
model.get_input_embeddings().requires_grad_(False)
Trainer(model=model, args=TrainingArguments("out")).train()
