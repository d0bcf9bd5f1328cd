# The QLoRA recipe with its two calls swapped: the preparation freezes the LoRA weights too.
import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Trainer

bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", quantization_config=bnb)
model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM"))
model.print_trainable_parameters()
model = prepare_model_for_kbit_training(model)
Trainer(model=model, args=training_args, train_dataset=train_dataset).train()
