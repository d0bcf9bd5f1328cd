"""A "freeze the backbone" loop kept from before PEFT: on a PeftModel, `base_model` is the LoraModel, adapters and
all, so the LoRA matrices are frozen with it."""
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
for param in model.base_model.parameters():
    param.requires_grad = False  # expect-runtime: FRZ403 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
