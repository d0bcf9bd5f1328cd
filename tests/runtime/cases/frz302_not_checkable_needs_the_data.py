"""The label count comes from the dataset: the model cannot be built without loading data."""
from datasets import load_dataset
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

raw = load_dataset("glue", "sst2")
labels = raw["train"].features["label"].names
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=len(labels))  # expect-runtime: FRZ302 not-checkable
Trainer(model=model, args=TrainingArguments("out"), train_dataset=raw["train"]).train()
