"""PEFT and adapter libraries: how adapters are applied, configured and saved."""

from __future__ import annotations

import re

PEFT_WRAPPERS = {
    "peft.get_peft_model": "get_peft_model",
    "peft.mapping.get_peft_model": "get_peft_model",
    "peft.mapping_func.get_peft_model": "get_peft_model",
    "unsloth.FastLanguageModel.get_peft_model": "get_peft_model",
    "unsloth.FastModel.get_peft_model": "get_peft_model",
    "unsloth.FastVisionModel.get_peft_model": "get_peft_model",
}


PEFT_LOADERS = re.compile(r"^peft\.(\w+\.)*(PeftModel\w*|AutoPeftModel\w*)\.from_pretrained$")


PEFT_IN_PLACE = {"peft.inject_adapter_in_model": 1}  # qualified name -> index of the model argument


PEFT_METHODS = frozenset({"add_adapter", "load_adapter", "enable_adapters", "set_adapter", "init_adapter"})


PEFT_CONFIGS = re.compile(r"^peft\.(\w+\.)*\w+Config$")


# Every way of applying PEFT the analysis records (PeftApply) has one of these in its code.
PEFT_APPLY_TOKENS = ("get_peft_model", "PeftModel", "adapter", "peft_config")


ADAPTER_LIBRARIES = ("adapters.init", "adapters.AutoAdapterModel")


# PEFT configurations whose adapters are layers injected into the base model (LoRA and its relatives): freezing the
# base model after wrapping freezes them too. Prompt-learning configurations (PromptTuningConfig, PrefixTuningConfig,
# PromptEncoderConfig...) keep their trainable prompt encoder outside `base_model`.
PEFT_INJECTED_CONFIGS = frozenset(
    {
        "LoraConfig", "LoHaConfig", "LoKrConfig", "AdaLoraConfig", "IA3Config", "OFTConfig", "BOFTConfig",
        "VeraConfig", "FourierFTConfig", "HRAConfig", "VBLoRAConfig", "LNTuningConfig", "BoneConfig", "MissConfig",
        "RandLoraConfig", "C3AConfig", "ShiraConfig", "RoadConfig", "WaveFTConfig", "DeloraConfig", "OSFConfig",
    }
)


# PEFT calls that put adapters into the model they are given (in place), so the model itself then holds them.
PEFT_IN_PLACE_HOWS = frozenset({"add_adapter", "inject_adapter_in_model"})


# `task_type` values whose PeftModel subclass adds the task head to `modules_to_save` itself (peft 0.21.2
# peft_model.py: PeftModelForSequenceClassification / ForTokenClassification add "classifier" and "score",
# PeftModelForQuestionAnswering adds "qa_outputs").
PEFT_TASK_TYPE_SAVES = {
    "SEQ_CLS": ("classifier", "score"),
    "TOKEN_CLS": ("classifier", "score"),
    "QUESTION_ANS": ("qa_outputs",),
}


# The `task_type` to suggest for a task model, by its class-name ending.
PEFT_TASK_TYPE_OF = {
    "ForSequenceClassification": "SEQ_CLS",
    "ForTokenClassification": "TOKEN_CLS",
    "ForQuestionAnswering": "QUESTION_ANS",
}


# Parts of the parameter names PEFT's tuners give the weights they add (peft 0.21 `tuners/*/layer.py`:
# `lora_A`/`lora_B`/`lora_embedding_*`, `ia3_l`, `vera_lambda_*`, `hada_w*`, `lokr_w*`, `oft_r`, `boft_R`; prompt
# learning's `prompt_encoder`; LLaMA-Adapter's `adaption_prompt`/`adaption_gate`), for the runtime to tell adapters
# from the base weights.
ADAPTER_PARAMETER_MARKERS = (
    "lora_", "ia3_", "vera_lambda", "hada_", "lokr_", "oft_r", "boft_", "prompt_encoder", "adaption_",
)

