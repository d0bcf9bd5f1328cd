from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
sharded = FSDP(
    model,
    sync_module_states=True,
)
