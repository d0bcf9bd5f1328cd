"""\"Freeze all but the classifier\" on GPT-2, whose head is `score`: everything is frozen."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("gpt2", num_labels=2)
for name, param in model.named_parameters():
    if "classifier" not in name:  # expect-runtime: FRZ107
        param.requires_grad = False  # expect-runtime: FRZ301 confirmed
trainer = Trainer(model=model, args=TrainingArguments("out"))
trainer.train()
