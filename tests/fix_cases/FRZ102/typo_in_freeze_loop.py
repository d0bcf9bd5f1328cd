# A misspelled attribute creates a new attribute and freezes nothing (pytorch/pytorch#72332).
import torchvision

model = torchvision.models.vgg16(weights="DEFAULT")
for param in model.features.parameters():
    param.require_grad = False
for param in model.avgpool.parameters():
    param.requires_grads = False
