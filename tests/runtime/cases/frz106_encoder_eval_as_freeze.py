"""`.eval()` on the encoder, meant as "keep it fixed": every encoder weight still requires grad and trains."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)  # expect-runtime: FRZ302 confirmed
model.bert.eval()  # expect-runtime: FRZ106 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
