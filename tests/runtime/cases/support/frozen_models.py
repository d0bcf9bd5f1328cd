"""A project's own model class that freezes its encoder when it is built (the static check cannot see into it)."""
from transformers import BertForSequenceClassification


class FrozenEncoderClassifier(BertForSequenceClassification):
    def __init__(self, config):
        super().__init__(config)
        self.bert.requires_grad_(False)
