"""Freezing: the helpers of each library that freeze or unfreeze, misspellings and other frameworks' freeze attributes, and the names that are tensors in some architectures."""

from __future__ import annotations

import re

from freezelint.knowledge.modules import FOREIGN_FRAMEWORKS

# Methods of models (or learners) that freeze or unfreeze parameters themselves; value: requires_grad they set.
FREEZE_METHODS = {
    "freeze_feature_encoder": False,
    "freeze_feature_extractor": False,
    "freeze_base_model": False,
    "freeze_backbone": False,
    "freeze_encoder": False,
    "freeze_decoder": False,
    "freeze_vision_tower": False,
    "freeze_model": False,
    "freeze": False,
    "freeze_to": False,
    "freeze_embeddings": False,
    "train_adapter": False,  # adapters: freezes the base, trains the adapter
    "train_adapter_fusion": False,
    "unfreeze": True,
    "unfreeze_backbone": True,
    "unfreeze_model": True,
    "unfreeze_encoder": True,
}


# Library functions that freeze their first argument; value: requires_grad they set.
FREEZE_FUNCTIONS = {
    "timm.utils.freeze": False,
    "timm.utils.model.freeze": False,
    "timm.utils.unfreeze": True,
    "timm.utils.model.unfreeze": True,
    "pytorch_lightning.callbacks.BaseFinetuning.freeze": False,
    "pytorch_lightning.callbacks.BaseFinetuning.make_trainable": True,
    "lightning.pytorch.callbacks.BaseFinetuning.freeze": False,
    "lightning.pytorch.callbacks.BaseFinetuning.make_trainable": True,
    "peft.prepare_model_for_kbit_training": False,
    "peft.utils.prepare_model_for_kbit_training": False,
    "peft.prepare_model_for_int8_training": False,
}


# Strings a file must contain to freeze or unfreeze anything the facts see (sound `tokens` for rules that need a
# freeze or an unfreeze): `requires_grad`, every FREEZE_METHODS name (in any case: `Unfreeze_backbone()`),
# FREEZE_FUNCTIONS and Lightning name.
FREEZE_TOKENS = ("requires_grad", "freeze", "Freeze", "train_adapter", "prepare_model_for")


UNFREEZE_TOKENS = ("requires_grad", "unfreeze", "Unfreeze", "make_trainable")


# Every form of freeze or unfreeze the analysis records has one of these in its code: a rule about a change of
# `requires_grad` cannot fire in a file without one (the pre-filter's groups rely on it).
FLAG_CHANGE_TOKENS = tuple(sorted({*FREEZE_TOKENS, *UNFREEZE_TOKENS}))


# Gradients switched off for a forward pass: a context manager, a decorator, or a detached output.
NO_GRAD_TOKENS = ("no_grad", "inference_mode", "set_grad_enabled", "detach")


# Method names on `self` in a Lightning `BaseFinetuning` subclass that freeze or unfreeze a module argument
# (lightning/pytorch/callbacks/finetuning.py); `unfreeze_and_add_param_group` also adds them to the optimizer.
LIGHTNING_FINETUNING_METHODS = {"freeze": False, "freeze_module": False, "make_trainable": True, "unfreeze_and_add_param_group": True}


# Lightning hooks that run before `configure_optimizers` (`BaseFinetuning.setup` calls `freeze_before_training`), and
# the LightningModule hooks that run after it, once per fit or per epoch.
LIGHTNING_SETUP_HOOKS = frozenset({"setup", "prepare_data"})


LIGHTNING_MODULE_HOOKS = frozenset({"on_fit_start", "on_train_start", "on_train_epoch_start", "on_epoch_start"})


# Packages whose models are not torch modules: there `trainable`/`stop_gradient` are the real API.
FOREIGN_MODEL_PACKAGES = frozenset(
    {
        *FOREIGN_FRAMEWORKS,
        "keras_nlp",
        "keras_hub",
        "keras_cv",
        "paddlenlp",
        "paddleclas",
        "paddleseg",
        "paddledet",
        "ppdet",
        "mindnlp",
        "mindformers",
        "jittor",
        "megengine",
    }
)


# transformers' TensorFlow and Flax classes (removed in v5, common in v4 code): Keras / Flax models.
FOREIGN_MODEL_CLASS = re.compile(r"^(TF|Flax)[A-Z]")


def is_foreign_model(qualname: str, class_name: str | None) -> bool:
    """True for a model object of another framework (`TFBertModel.from_pretrained`, paddlenlp's `AutoModel`)."""
    return qualname.split(".", 1)[0] in FOREIGN_MODEL_PACKAGES or bool(class_name and FOREIGN_MODEL_CLASS.match(class_name))


# Attribute names that hold a tensor (an `nn.Parameter` or a buffer) in some transformers model (5.24) although they
# may read like sub-modules (ViT's `position_embeddings`, CLIP's `text_projection`, MoE experts' `down_proj`, BERT's
# `position_ids` buffer), beyond `PARAMETER_ATTRIBUTE`. Off a library model such a name may be a module or a tensor:
# the analysis does not guess. Regenerate over the installed package with
# `grep -rhoE "self\.\w+ = nn\.(Parameter|Buffer)\(|register_buffer\(\"\w+\"" transformers/models`.
LIBRARY_TENSOR_NAMES = frozenset(
    {
    "A", "A_log", "D", "act_scaling_factor", "af2_to_esm", "alpha_cross_attn", "alpha_dense", "attention_bias_idxs",
    "attention_dists", "attn_mask_probs", "audio_tokens_offsets", "b1", "b2", "balancing_biases", "base", "basis",
    "bias_integer", "bias_u", "bias_v", "bin_centers", "bos_latent", "boundaries", "class_pos_emb", "cls_emb",
    "cluster_size", "cluster_usage", "code_offset", "codevectors", "column_output_weights",
    "decoder_position_embeddings", "default_frames", "dft_mat_hidden", "dft_mat_seq", "diagonal_decay", "down_proj",
    "dummy_node", "emb_rel_k", "emb_rel_v", "embed_avg", "embed_positions", "embed_sum", "embedding",
    "esm_s_combine", "eye", "fc_scaling_factor", "ffn_gamma", "filter", "fn", "freq", "freqs", "freqs_ci",
    "frequencies", "gamma_1", "gamma_2", "gate", "gate_attention", "gate_attn", "gate_ffn", "gate_ffw", "gate_proj",
    "gate_up_proj", "global_img_feature_extensor", "global_invstd", "global_mean", "gradient_clipping", "group_idx",
    "gru_rel_pos_const", "hc_base", "hc_fn", "head_weights", "high_res_vision_alpha", "image_begin", "image_end",
    "image_newline", "image_positions", "image_sep", "index_kpool_compress_ape", "index_kpool_compress_gate",
    "inited", "initialized", "input_matrix_continuous", "input_max", "input_min", "input_permutation",
    "input_residual", "inv_freq", "inv_timescales", "k", "k_idx", "k_minus_1", "kernel_size", "key_decay",
    "label_embeddings_concat", "lambda1", "lambda_1", "lambda_2", "lambda_k1", "lambda_k2", "lambda_q1", "lambda_q2",
    "lambdas", "latent_bias_factor", "latent_mean", "latent_query", "latent_scaling_factor",
    "latent_stats_num_updates", "latent_std", "latents_1d", "latents_2d", "layer_multipliers", "layer_scalar",
    "layer_scale_1", "layer_scale_2", "layer_weights", "level_embed", "levels", "lit_positions", "log_delta",
    "log_k", "log_state_decay", "logit_scale_a", "logit_scale_t", "mask_emb", "mask_value_float16",
    "mask_value_float32", "masked_spec_embed", "mean", "mid_position_embeddings", "mup_vector",
    "ngram_heads_offsets", "ngram_heads_vocab_sizes", "norm_mean", "norm_std", "normalizer", "o", "offsets",
    "one_minus_eye", "original_inv_freq", "output_max", "output_min", "output_weights", "pad_down", "pad_left",
    "pad_right", "pad_up", "padding_total", "phases", "pixel_mean", "pixel_std", "pooling_attention_query",
    "pos_bias_u", "pos_bias_v", "pos_emb_alpha", "pos_emb_alpha_char", "pos_embed_window", "pos_enc", "pos_encoding",
    "pos_idx_to_embed", "position_angles", "position_embedding_table", "position_embeddings", "position_enc",
    "position_ids", "position_ids_k", "positional_embedding_vlm", "post_attention_residual", "probe", "proj",
    "prompts_visual_projection", "q", "query", "query_decay", "r", "r_kernel", "rel_pos_h", "rel_pos_w",
    "relative_coords_table", "relative_position_bias_table", "relative_position_index", "rpb", "s_gate",
    "scaled_factor", "scaling", "seg_embed", "segment_token_input", "segment_token_prompt",
    "self_mask_value_float16", "self_mask_value_float32", "shift", "silence_embeds", "sinks", "sinusoid_freq",
    "slope_rate", "softcap", "sqk", "stride", "sub_img_feature_extensor", "summary_idxs", "suv_gate", "suv_up",
    "temp", "text_projection", "text_prompt", "tid2eid", "time_decay", "time_embeddings", "time_first",
    "time_mix_key", "time_mix_receptance", "time_mix_value", "time_position_embeddings", "token_ordering",
    "token_type_ids", "translate", "type_token_instance", "type_token_semantic", "up", "up_proj", "v", "v1",
    "view_separator", "visual_bbox", "w1", "w2", "w_g", "weight_integer", "weight_scaling_factor", "weights",
    "window", "x_max", "x_min", "z_L_init",
    }
)


# Keyword arguments (of `from_pretrained`, a config constructor) that give a model's number of stacked layers.
LAYER_COUNT_KEYWORDS = ("num_hidden_layers", "num_layers", "n_layers", "n_layer")


# Layers of common checkpoints (the bundled configs in data/configs, and a few more), by the checkpoint's last
# path component (`google-bert/bert-base-uncased` -> `bert-base-uncased`).
LAYER_COUNTS = {
    "bert-base-uncased": 12,
    "bert-base-cased": 12,
    "bert-large-uncased": 24,
    "bert-large-cased": 24,
    "roberta-base": 12,
    "roberta-large": 24,
    "distilbert-base-uncased": 6,
    "distilbert-base-cased": 6,
    "distilroberta-base": 6,
    "gpt2": 12,
    "gpt2-medium": 24,
    "gpt2-large": 36,
    "gpt2-xl": 48,
    "distilgpt2": 6,
    "t5-small": 6,
    "t5-base": 12,
    "t5-large": 24,
}


def layer_count(checkpoint: str | None) -> int | None:
    """Stacked layers of a known checkpoint, or None."""
    if not checkpoint:
        return None
    return LAYER_COUNTS.get(checkpoint.rstrip("/").rsplit("/", 1)[-1])


# A parameter-name pattern that ends in a layer index (`"encoder.layer.1"`, `"model.layers.3"`, `"transformer.h.2"`):
# as a substring or prefix it also matches the layers whose index starts with the same digits (10-19). A container
# right after another index is a sub-layer list (T5's `block.3.layer.1`: at most 3 entries), never ten long. CNN and
# Swin `stages` are not listed: they have four or five entries, so `stage.1` never meets a `stage.10`.
LAYER_INDEX_PATTERN = re.compile(
    r"(?:^|(?<!\d)\.)(?P<container>layer|layers|h|block|blocks|blk|resblocks|res\d?)\.(?P<index>[1-9]\d*)$"
)


# Tensor methods that always return a new tensor object: `requires_grad` set on the result never reaches the parameter.
# (`.to()`, `.float()`, `.cpu()` return the parameter itself when nothing changes, so they are not listed.)
TENSOR_COPY_METHODS = frozenset({"detach", "clone"})


# Foreign freeze attributes whose True means frozen (PaddlePaddle's `stop_gradient`), unlike `trainable`.
INVERTED_FREEZE_ATTRIBUTES = frozenset({"stop_gradient"})


# Packages whose import marks a file as torch code (an object of unknown type there is most likely a torch one).
TORCH_PACKAGES = ("torch", "transformers", "peft", "timm", "torchvision", "accelerate", "lightning", "pytorch_lightning")


# torch.nn containers whose items are parameters, not modules.
PARAMETER_CONTAINERS = frozenset({"ParameterList", "ParameterDict"})


# Architectures whose `layer` lists are sub-layers of a block (T5: `block.3.layer.1`, at most three entries), by
# model class or checkpoint: there `"layer.1"` names a sub-layer and never collides.
SUBLAYER_ARCHITECTURE = re.compile(r"t5|switch", re.IGNORECASE)


def has_sublayer_lists(class_name: str | None, checkpoint: str | None) -> bool:
    return any(name and SUBLAYER_ARCHITECTURE.search(name) for name in (class_name, checkpoint))


# `nn.Embedding.from_pretrained` and `nn.EmbeddingBag.from_pretrained` (torch 2.13: `freeze=True` by default).
EMBEDDING_FROM_PRETRAINED = frozenset(
    {
        "torch.nn.Embedding.from_pretrained",
        "torch.nn.EmbeddingBag.from_pretrained",
        "torch.nn.modules.sparse.Embedding.from_pretrained",
        "torch.nn.modules.sparse.EmbeddingBag.from_pretrained",
    }
)


# Methods removed from transformers, by the major version that removed them: {name: (replacement, removed in)}.
# wav2vec2-family models (Wav2Vec2, Hubert, WavLM, Data2VecAudio, SEW, SEW-D, UniSpeech, UniSpeechSat,
# Wav2Vec2Conformer) deprecated `freeze_feature_extractor()` in 4.x and transformers 5 removed it.
REMOVED_METHODS = {"freeze_feature_extractor": ("freeze_feature_encoder", 5)}


# Class-name stems of those models (evidence that an untracked receiver is one of them when the file imports one).
WAV2VEC2_FAMILY = re.compile(r"^(Wav2Vec2|Hubert|WavLM|Data2VecAudio|SEW|SEWD|UniSpeech|UniSpeechSat|Wav2Vec2Conformer)(Model|For\w+)$")


# `AutoModel*` classes that load those models, and their checkpoint names (`facebook/wav2vec2-base`).
WAV2VEC2_AUTO_CLASSES = frozenset(
    {"AutoModelForCTC", "AutoModelForAudioClassification", "AutoModelForAudioFrameClassification", "AutoModelForAudioXVector", "AutoModelForPreTraining"}
)


WAV2VEC2_CHECKPOINT = re.compile(r"wav2vec2|hubert|wavlm|data2vec-audio|unispeech|(^|/)sew", re.I)
