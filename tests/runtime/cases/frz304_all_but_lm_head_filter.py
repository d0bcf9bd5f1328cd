"""`named_parameters()` lists the tied weight once, as `transformer.wte.weight`: "lm_head" never matches."""
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2")
for name, param in model.named_parameters():
    param.requires_grad = "lm_head" in name  # expect-runtime: FRZ304
trainer = Trainer(model=model, args=TrainingArguments("out"))
trainer.train()  # expect-runtime: FRZ301
