"""Library facts kept as data: the tokens rules rely on stay sound, the task-head table answers as documented."""

from __future__ import annotations

from freezelint import knowledge as kb


def test_freeze_tokens_cover_every_freeze_and_unfreeze_name():
    """A file that freezes (unfreezes) through any known helper contains one of FREEZE_TOKENS (UNFREEZE_TOKENS)."""
    helpers = {**kb.FREEZE_METHODS, **kb.FREEZE_FUNCTIONS, **kb.LIGHTNING_FINETUNING_METHODS}
    for name, value in helpers.items():
        tokens = kb.UNFREEZE_TOKENS if value else kb.FREEZE_TOKENS
        assert any(token in name for token in tokens), name


def test_optimizer_tokens_cover_every_optimizer_the_facts_know():
    names = ["SGD", "AdamW", "AdamW8bit", "PagedAdamW32bit", "Adafactor", "LBFGS", "Lion", "DAdaptAdam", "GaLoreAdamW",
             "RAdamScheduleFree", "FusedLAMB", "Ranger21", "create_optimizer_v2", "deepspeed.initialize"]
    for name in names:
        assert any(token in name for token in kb.OPTIMIZER_TOKENS), name
    assert all(token and token.isidentifier() for token in kb.OPTIMIZER_TOKENS)
    for name in names[:-2]:
        assert kb.OPTIMIZER_NAME.match(name), name


def test_task_heads_by_class_by_checkpoint_and_for_vision_factories():
    assert kb.task_head("GPT2ForSequenceClassification", None, "transformers")[1] == ("score",)
    arch, heads, words = kb.task_head("AutoModelForSequenceClassification", "meta-llama/Llama-3.2-1B", "transformers")
    assert (arch, heads) == ("LlamaForSequenceClassification", ("score",)) and "classifier" not in words
    assert kb.task_head("AutoModelForSequenceClassification", "distilbert-base-uncased", "transformers")[1] == (
        "pre_classifier", "classifier"
    )
    assert kb.task_head("AutoModelForSequenceClassification", "roberta-base", "transformers")[0] == "RobertaForSequenceClassification"
    assert kb.task_head("resnet50", None, "torchvision")[1] == ("fc",)
    assert kb.task_head("vit_base_patch16_224.augreg_in21k", None, "timm")[1] == ("head",)
    assert kb.task_head("resnet50.a1_in1k", None, "timm")[1] == ("fc",)
    assert kb.task_head("AutoModelForSequenceClassification", "my-org/some-model", "transformers") is None
    assert kb.task_head("MyNet", None, None) is None


def test_freeze_option_names():
    for name in ("freeze_encoder", "freeze", "unfreeze_last_n", "frozen_layers", "vision_frozen", "train_base_model", "num_frozen_layers"):
        assert kb.FREEZE_OPTION_NAME.search(name), name
    for name in ("lr", "antifreeze", "output_dir", "train_batch_size"):
        assert not kb.FREEZE_OPTION_NAME.search(name), name


def test_distributed_rule_tokens_cover_every_wrap_they_read():
    """FRZ504-FRZ508 only run on files that contain their tokens: every way the facts know to make the wrap each rule
    needs is spelled with one of them."""
    from freezelint.rules import get_rule

    ddp = kb.DDP_TOKENS
    assert get_rule("FRZ504").tokens[0] == get_rule("FRZ505").tokens[0] == ddp  # each with a second group of its own
    compiled = get_rule("FRZ508").tokens[0]
    kinds = {**kb.WRAPPERS, **kb.PREPARE_METHODS}
    for name, kind in kinds.items():
        if kind in kb.DDP_WRAP_KINDS:
            assert any(token in name for token in ddp), name
        if kind == "fsdp":
            assert any(token in name for token in get_rule("FRZ506").tokens), name
        if kind == "compile":
            assert any(token in name for token in compiled), name
    assert any(token in kb.DEEPSPEED_INITIALIZE for token in get_rule("FRZ507").tokens)
    # `prepare` and `setup` wrap only on objects of accelerate or Lightning, whose import spells the second group.
    assert get_rule("FRZ504").tokens[1] == get_rule("FRZ505").tokens[1] == kb.DDP_LIBRARY_TOKENS
    assert all(kb.PREPARE_METHODS[name] in ("accelerate", "fabric") for name in kb.PREPARE_METHODS)


def test_model_types_by_class_and_by_checkpoint():
    from freezelint.knowledge import is_base_model_class, model_type

    assert model_type("BertForSequenceClassification", None) == "bert"
    assert model_type("ViTModel", None) == "vit" and is_base_model_class("ViTModel")
    assert model_type("MobileNetV2ForImageClassification", None) == "mobilenet_v2"
    assert model_type("AutoModelForImageClassification", "microsoft/resnet-50") == "resnet"
    assert model_type("AutoModelForImageClassification", "facebook/dinov2-small") == "dinov2"
    assert model_type("AutoModel", None) is None and model_type("MyNet", None) is None
    assert not is_base_model_class("BertForMaskedLM")


def test_the_knowledge_package_exports_every_table_of_its_modules():
    """Rules and the analysis read `knowledge.X`: a table added to a module and not exported would fail at run time."""
    import ast
    import importlib
    import pkgutil

    import freezelint.knowledge as knowledge

    for info in pkgutil.iter_modules(knowledge.__path__):
        module = importlib.import_module(f"freezelint.knowledge.{info.name}")
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        defined = {
            target.id
            for node in tree.body
            for target in (node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)])
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(target, ast.Name)
        } | {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        missing = sorted(name for name in defined if not name.startswith("_") and not hasattr(knowledge, name))
        assert not missing, f"freezelint.knowledge does not export {missing} of {info.name}"
