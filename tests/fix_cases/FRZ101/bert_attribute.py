# The most common no-op freeze: `requires_grad` stored on a module freezes nothing, and the whole model trains.
from transformers import AutoModelForSequenceClassification, Trainer

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad = False
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
trainer.train()
