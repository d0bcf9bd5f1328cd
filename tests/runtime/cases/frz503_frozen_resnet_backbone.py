"""A frozen, eval-mode ResNet backbone: the Trainer calls model.train() every step, so BatchNorm statistics move."""
from transformers import ResNetForImageClassification, Trainer, TrainingArguments

model = ResNetForImageClassification.from_pretrained("microsoft/resnet-50", num_labels=3, ignore_mismatched_sizes=True)
model.resnet.requires_grad_(False)  # expect-runtime: FRZ503 confirmed
model.resnet.eval()
Trainer(model=model, args=TrainingArguments("out")).train()
