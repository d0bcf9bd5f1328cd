# Resuming LoRA training from a saved adapter: loaded for inference, nothing trains.
from peft import PeftModel
from transformers import AutoModelForCausalLM, Trainer

base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
model = PeftModel.from_pretrained(base, "outputs/checkpoint-500", is_trainable=True)
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
trainer.train()
