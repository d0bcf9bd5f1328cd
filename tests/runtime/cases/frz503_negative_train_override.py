"""The model keeps its frozen backbone in eval mode whenever it is put in train mode."""
from transformers import ResNetForImageClassification, Trainer, TrainingArguments


class FrozenBackboneResNet(ResNetForImageClassification):
    def train(self, mode=True):
        super().train(mode)
        self.resnet.eval()
        return self


model = FrozenBackboneResNet.from_pretrained("microsoft/resnet-50", num_labels=3, ignore_mismatched_sizes=True)
model.resnet.requires_grad_(False)
Trainer(model=model, args=TrainingArguments("out")).train()
