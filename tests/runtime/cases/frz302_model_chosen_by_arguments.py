"""A model class and checkpoint chosen by the command line (`--model_type gpt2`), trained with nothing frozen: the
static check notes it once for either class; the replay builds GPT-2 and confirms every weight trainable."""
# runtime-args: --model_type gpt2 --model_name_or_path gpt2
import argparse

from transformers import GPT2LMHeadModel, Trainer, TrainingArguments, XLNetLMHeadModel

MODEL_CLASSES = {"gpt2": GPT2LMHeadModel, "xlnet": XLNetLMHeadModel}

parser = argparse.ArgumentParser()
parser.add_argument("--model_type", required=True)
parser.add_argument("--model_name_or_path", required=True)
args = parser.parse_args()

model_class = MODEL_CLASSES[args.model_type]
model = model_class.from_pretrained(args.model_name_or_path)  # expect-runtime: FRZ302 confirmed
trainer = Trainer(model=model, args=TrainingArguments("out"))
trainer.train()
