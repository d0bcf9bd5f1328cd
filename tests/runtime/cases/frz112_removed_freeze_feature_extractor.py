"""A transformers 4 era CTC script: `freeze_feature_extractor()` is gone in transformers 5, so the line fails."""
from transformers import Trainer, TrainingArguments, Wav2Vec2ForCTC

model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base", ctc_loss_reduction="mean", pad_token_id=0)
model.freeze_feature_extractor()  # expect-runtime: FRZ112 confirmed
Trainer(model=model, args=TrainingArguments("out")).train()
