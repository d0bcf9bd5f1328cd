"""LoRA on a new sequence classifier with neither `task_type` nor `modules_to_save`: PEFT freezes the randomly
initialised head with the base weights, so it never learns."""
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
model = get_peft_model(model, LoraConfig(r=4, target_modules=["query", "value"]))  # expect-runtime: FRZ404 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
