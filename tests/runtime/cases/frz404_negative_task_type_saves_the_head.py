"""With `task_type="SEQ_CLS"` PEFT keeps a trainable copy of the head: nothing to report, and nothing found."""
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
Trainer(model=model, args=TrainingArguments("out")).train()
