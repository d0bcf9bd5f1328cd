"""Everything is frozen when the replay ends, but a callback unfreezes the head when training starts."""
from transformers import AutoModelForSequenceClassification, Trainer, TrainerCallback, TrainingArguments


class UnfreezeHead(TrainerCallback):
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        model.classifier.requires_grad_(True)  # expect-runtime: FRZ203 not-checkable


model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.requires_grad_(False)
Trainer(model=model, args=TrainingArguments("out"), callbacks=[UnfreezeHead()]).train()
