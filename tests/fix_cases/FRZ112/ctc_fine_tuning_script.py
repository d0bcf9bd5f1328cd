# A transformers 4 era CTC fine-tuning script: the method is gone in transformers 5.
from transformers import Trainer, Wav2Vec2ForCTC

model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base", ctc_loss_reduction="mean", pad_token_id=0)
model.freeze_feature_extractor()
Trainer(model=model, args=training_args, train_dataset=train_dataset).train()
