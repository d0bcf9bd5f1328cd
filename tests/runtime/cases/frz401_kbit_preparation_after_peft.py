"""`prepare_model_for_kbit_training` after `get_peft_model` freezes the LoRA matrices with the base: nothing trains.
The replay confirms it, and its "nothing trainable" is that finding's evidence, not a FRZ301 advising a task head."""
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

model = AutoModelForCausalLM.from_pretrained("gpt2")
model = get_peft_model(model, LoraConfig(r=4, target_modules=["c_attn"], task_type="CAUSAL_LM"))
model = prepare_model_for_kbit_training(model)  # expect-runtime: FRZ401 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
