# Every receiver here is an nn.Module: a layer of the encoder, a sub-module method's result, a loop over children.
import timm
import torchvision
from transformers import AutoModel

model = AutoModel.from_pretrained("roberta-base")
model.encoder.layer[0].requires_grad_(False)
model.get_input_embeddings().requires_grad_(False)
model.embeddings.requires_grad_(False)
for layer in model.encoder.layer[:8]:
    layer.requires_grad_(False)
for child in list(model.children())[:-1]:
    child.requires_grad = False

backbone = timm.create_model("resnet50", pretrained=True, num_classes=0)
backbone.requires_grad = False

vgg = torchvision.models.vgg16(weights="DEFAULT")
vgg.features.requires_grad_(False)
