"""The facts model: aliases, order, scope, functions and classes of the same file."""

from __future__ import annotations

import textwrap

import libcst as cst

from freezelint.analysis import collect
from freezelint.facts import (
    UNKNOWN,
    AttributeAssign,
    Consumption,
    Facts,
    FreezeForm,
    FreezeOp,
    Kind,
    Loop,
    ModelSource,
    ModuleRef,
    OpaqueUse,
    Options,
    OptimizerBuild,
    OptimizerCall,
    OptionDefinition,
    ParamRef,
    ParamSet,
    PeftApply,
    TrainCall,
    TrainerBuild,
    Wrap,
    mentions,
)
from freezelint.source import Source


def facts_of(code: str) -> Facts:
    text = textwrap.dedent(code)
    return collect(Source("t.py", text), cst.parse_module(text))


def test_import_aliases_resolve_to_qualified_names():
    facts = facts_of(
        """
        import transformers as tf
        from torch import optim
        from torch.optim import AdamW as Opt
        import trl
        m = tf.AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        a = optim.SGD(m.parameters(), lr=0.1)
        b = Opt(m.parameters())
        t1 = tf.Seq2SeqTrainer(model=m)
        t2 = trl.SFTTrainer(model=m)
        """
    )
    assert [model.factory for model in facts.models] == ["AutoModelForSequenceClassification.from_pretrained"]
    assert [build.qualname for build in facts.of(OptimizerBuild)] == ["torch.optim.SGD", "torch.optim.AdamW"]
    assert [build.qualname for build in facts.of(TrainerBuild)] == ["transformers.Seq2SeqTrainer", "trl.SFTTrainer"]


def test_non_models_are_not_models():
    facts = facts_of(
        """
        from transformers import AutoTokenizer, AutoConfig, AutoProcessor, AutoFeatureExtractor, AutoImageProcessor
        for cls in ():
            pass
        t = AutoTokenizer.from_pretrained("x")
        c = AutoConfig.from_pretrained("x")
        p = AutoProcessor.from_pretrained("x")
        f = AutoFeatureExtractor.from_pretrained("x")
        i = AutoImageProcessor.from_pretrained("x")
        """
    )
    assert facts.models == []


def test_model_factories():
    facts = facts_of(
        """
        import timm, torchvision
        from torchvision.models import resnet50
        a = timm.create_model("resnet50", pretrained=True)
        b = torchvision.models.vit_b_16(weights="DEFAULT")
        c = resnet50()
        """
    )
    assert [(m.source, m.library) for m in facts.models] == [(ModelSource.FACTORY, "timm"), (ModelSource.FACTORY, "torchvision"), (ModelSource.FACTORY, "torchvision")]
    assert facts.models[0].checkpoint == "resnet50"


def test_freeze_loop_targets_the_module_it_iterates():
    facts = facts_of(
        """
        from transformers import BertForSequenceClassification
        model = BertForSequenceClassification.from_pretrained("bert-base-uncased")
        for param in model.bert.encoder.layer[:8].parameters():
            param.requires_grad = False
        """
    )
    (op,) = facts.of(FreezeOp)
    assert op.value is False and op.form is FreezeForm.STORE and op.effective and op.whole
    assert op.module.model is facts.models[0]
    assert op.module.path == ("bert", "encoder", "layer", "[:8]")


def test_named_parameter_filters_are_recorded():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for name, p in model.named_parameters():
            if "pooler" not in name:
                p.requires_grad = False
        """
    )
    (op,) = facts.of(FreezeOp)
    assert not op.whole and len(op.filters) == 1
    assert cst.Module([]).code_for_node(op.filters[0].test) == '"pooler" not in name'


def test_module_attribute_store_is_not_effective_but_parameter_store_is():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        model.encoder.requires_grad = False
        model.embeddings.word_embeddings.weight.requires_grad = False
        model.embeddings.word_embeddings.weight.data.requires_grad = False
        """
    )
    module_store, weight_store, data_store = facts.of(FreezeOp)
    assert isinstance(module_store.target, ModuleRef) and module_store.target.kind is Kind.MODULE and not module_store.effective
    assert isinstance(weight_store.target, ParamRef) and weight_store.effective
    assert isinstance(data_store.target, ParamRef) and data_store.target.copy and not data_store.effective


def test_helper_function_is_followed_at_the_call_site_in_order():
    facts = facts_of(
        """
        import torch
        from transformers import AutoModel

        def freeze(module):
            for p in module.parameters():
                p.requires_grad = False

        model = AutoModel.from_pretrained("x")
        opt = torch.optim.AdamW(model.parameters())
        freeze(model.encoder)
        """
    )
    (op,) = facts.of(FreezeOp)
    (build,) = facts.of(OptimizerBuild)
    assert op.module.model is facts.models[0] and op.module.path == ("encoder",)
    assert op.order > build.order, "the freeze runs when freeze() is called, after the optimizer"
    assert op.where.function == "freeze" and not op.where.standalone
    assert len(op.where.calls) == 1


def test_uncalled_functions_are_walked_standalone():
    facts = facts_of(
        """
        def freeze(module):
            module.requires_grad_(False)
        """
    )
    assert facts.of(FreezeOp) == [], "events of uncalled functions are kept apart"
    (op,) = facts.of(FreezeOp, uncalled=True)
    assert op.where.standalone and facts.uncalled == [op]


def test_class_init_attributes_and_methods():
    facts = facts_of(
        """
        import torch
        from torch import nn
        from transformers import AutoModel

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = AutoModel.from_pretrained("x")
                self.head = nn.Linear(768, 2)
                self.pos_embedding = nn.Parameter(torch.zeros(1, 10, 768))

            def freeze_encoder(self):
                self.encoder.requires_grad_(False)
                self.pos_embedding.requires_grad = False

        net = Net()
        net.freeze_encoder()
        """
    )
    encoder = next(m for m in facts.models if m.source is ModelSource.PRETRAINED)
    net = next(m for m in facts.models if m.source is ModelSource.CUSTOM)
    assert net.attrs["encoder"] is encoder
    call, store = facts.of(FreezeOp)
    assert call.module.model is encoder and call.module.path == ()
    assert isinstance(store.target, ParamRef) and store.effective
    assert ModuleRef(net).contains(call.module)


def test_branches_merge_and_loops_are_recorded():
    facts = facts_of(
        """
        from transformers import AutoModel
        if big:
            model = AutoModel.from_pretrained("large")
        else:
            model = AutoModel.from_pretrained("base")
        for epoch in range(3):
            if epoch == 1:
                model.requires_grad_(False)
        """
    )
    ops = facts.of(FreezeOp)
    assert {op.module.model.checkpoint for op in ops} == {"large", "base"}
    assert all(op.where.in_loop() and op.where.conditional for op in ops)


def test_trainer_callbacks_run_at_train_with_the_trainers_model():
    facts = facts_of(
        """
        from transformers import AutoModel, Trainer, TrainerCallback

        class Unfreeze(TrainerCallback):
            def on_epoch_begin(self, args, state, control, model=None, **kwargs):
                model.encoder.layer[-1].requires_grad_(True)

        model = AutoModel.from_pretrained("x")
        model.requires_grad_(False)
        trainer = Trainer(model=model, callbacks=[Unfreeze()])
        trainer.train()
        """
    )
    freeze, unfreeze = facts.of(FreezeOp)
    (train,) = facts.of(TrainCall)
    assert unfreeze.value is True and unfreeze.where.callback_of is train.trainer
    assert unfreeze.order > train.order and unfreeze.module.model is facts.models[0]


def test_peft_wrappers_and_distribution_wrappers():
    facts = facts_of(
        """
        import torch
        from peft import get_peft_model, LoraConfig
        from transformers import AutoModelForCausalLM
        base = AutoModelForCausalLM.from_pretrained("gpt2")
        model = get_peft_model(base, LoraConfig(r=8))
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        compiled = torch.compile(ddp.module)
        """
    )
    (apply,) = facts.of(PeftApply)
    wrapper = apply.result
    assert wrapper.inner is facts.models[0]
    assert [w.kind for w in facts.of(Wrap)] == ["ddp", "compile"]
    assert all(w.module.model is wrapper for w in facts.of(Wrap))


def test_model_handed_to_an_imported_helper_is_opaque():
    facts = facts_of(
        """
        from transformers import AutoModel
        from mytools import freeze_layers
        model = AutoModel.from_pretrained("x")
        freeze_layers(model)
        print(model)
        """
    )
    (use,) = facts.of(OpaqueUse)
    assert use.callee == "mytools.freeze_layers"


def test_lazy_map_freezes_nothing_until_consumed():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        map(lambda p: p.requires_grad_(False), model.parameters())
        list(map(lambda p: p.requires_grad_(False), model.encoder.parameters()))
        """
    )
    lazy, consumed = facts.of(FreezeOp)
    assert not lazy.effective and consumed.effective


def test_recursion_and_budget_do_not_hang():
    facts = facts_of(
        """
        def f(m):
            return f(m)
        f(1)
        """
    )
    assert isinstance(facts, Facts)


def test_configured_freeze_helper_freezes_its_first_argument():
    code = textwrap.dedent(
        """
        from transformers import AutoModel
        from myproject.training import freeze_backbone
        import myproject.utils as utils
        model = AutoModel.from_pretrained("x")
        freeze_backbone(model.encoder)
        utils.freeze_all(module=model.embeddings)
        """
    )
    plain = collect(Source("t.py", code), cst.parse_module(code))
    assert not plain.of(FreezeOp) and len(plain.of(OpaqueUse)) == 2, "unknown helpers are opaque"
    options = Options(freeze_helpers=frozenset({"myproject.training.freeze_backbone", "myproject.utils.freeze_all"}))
    facts = collect(Source("t.py", code), cst.parse_module(code), options)
    encoder, embeddings = facts.of(FreezeOp)
    assert encoder.value is False and encoder.effective and encoder.module.path == ("encoder",)
    assert embeddings.module.path == ("embeddings",) and embeddings.form is FreezeForm.HELPER
    assert not facts.of(OpaqueUse), "a known helper is not opaque any more"


def test_options_reach_the_rules_through_the_facts():
    code = "x = 1\n"
    options = Options(target_transformers=4, markers=frozenset({"full-finetune"}))
    facts = collect(Source("t.py", code), cst.parse_module(code), options)
    assert facts.options.target_transformers == 4
    assert facts.has_marker(facts.module.body[0], "full-finetune"), "a marker the configuration declares for the file"
    assert collect(Source("t.py", code), cst.parse_module(code)).options.target_transformers == 5


# --- order and scope (order-aware rules) ------------------------------------------------------------------------------


def test_lightning_runs_setup_then_configure_optimizers_then_epoch_hooks():
    facts = facts_of(
        """
        import torch
        import lightning.pytorch as pl
        from lightning.pytorch.callbacks import BaseFinetuning

        class Net(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.backbone = torch.nn.Linear(4, 4)

            def configure_optimizers(self):
                return [torch.optim.Adam(filter(lambda p: p.requires_grad, self.parameters()))], []

        class Stages(BaseFinetuning):
            def finetune_function(self, pl_module, epoch, optimizer):
                self.unfreeze_and_add_param_group(modules=pl_module.backbone, optimizer=optimizer)

            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

        pl.Trainer(callbacks=[Stages()]).fit(Net())
        """
    )
    freeze, unfreeze = facts.of(FreezeOp)
    (build,) = facts.of(OptimizerBuild)
    (added,) = [c for c in facts.of(OptimizerCall) if c.method == "add_param_group"]
    assert freeze.value is False and unfreeze.value is True
    assert freeze.order < build.order < unfreeze.order < added.order
    assert added.optimizer.build is build
    assert unfreeze.where.in_loop() and not build.where.in_loop()
    assert build.where.callback_of is unfreeze.where.callback_of is not None


def test_only_iterating_builtins_use_up_a_generator():
    facts = facts_of(
        """
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        params = model.parameters()
        print(params)
        first = next(params)
        for i, p in enumerate(params):
            pass
        """
    )
    uses = [c for c in facts.of(Consumption) if isinstance(c.value, ParamSet)]
    assert [facts.code(u.where.statement) for u in uses] == ["for i, p in enumerate(params): pass"]


def test_option_definitions_are_recorded_by_the_name_code_reads():
    facts = facts_of(
        """
        import argparse, click, typer
        from dataclasses import dataclass
        from typing import Annotated
        parser = argparse.ArgumentParser()
        parser.add_argument("-f", "--freeze-encoder", action="store_true")
        parser.add_argument("--x", dest="freeze_layers")
        group = parser.add_argument_group("g")
        group.add_argument("train_base")

        @dataclass
        class ModelArguments:
            freeze_vision: bool = False

        @click.command()
        @click.option("--freeze-head/--no-freeze-head")
        def main(freeze_head, frozen_text: Annotated[bool, typer.Option()] = False, n: int = typer.Option(1)):
            pass

        CONFIG = {"freeze_backbone": True, 3: "x"}
        """
    )
    found = [(d.name, d.kind) for d in facts.of(OptionDefinition)]
    assert found == [
        ("freeze_encoder", "argparse"), ("freeze_layers", "argparse"), ("train_base", "argparse"),
        ("freeze_vision", "dataclass field"), ("freeze_head", "click"), ("frozen_text", "typer"), ("n", "typer"),
        ("freeze_backbone", "config key"),
    ]
    assert all(d.scope is not None for d in facts.of(OptionDefinition) if d.kind in ("click", "typer"))


def test_trainer_records_which_arguments_were_given():
    facts = facts_of(
        """
        from transformers import Trainer
        t = Trainer(model, training_args, optimizers=(opt, None))
        """
    )
    (build,) = facts.of(TrainerBuild)
    assert build.given == {"model", "args", "optimizers"}


def test_a_models_own_freeze_helper_is_partial():
    facts = facts_of(
        """
        from transformers import AutoModelForCTC
        model = AutoModelForCTC.from_pretrained("facebook/wav2vec2-base")
        model.freeze_feature_encoder()
        model.requires_grad_(False)
        """
    )
    helper, whole = facts.of(FreezeOp)
    assert helper.partial and not helper.whole
    assert whole.whole and not whole.partial


def test_frozen_at_follows_order_and_partial_unfreezes():
    facts = facts_of(
        """
        import torch.nn as nn
        import torchvision
        model = torchvision.models.resnet18()
        model.requires_grad_(False)
        model.fc.requires_grad_(True)
        model.layer4 = nn.Sequential()
        model.requires_grad_(True)
        """
    )
    model = facts.models[0]
    freeze, head, unfreeze = facts.of(FreezeOp)
    (assign,) = facts.of(AttributeAssign)
    root, fc, layer4 = ModuleRef(model), ModuleRef(model, ("fc",)), ModuleRef(model, ("layer4",))
    assert facts.frozen_at(root, head.order) is freeze
    assert facts.frozen_at(root, assign.order) is freeze, "a partial unfreeze leaves the rest frozen"
    assert facts.frozen_at(root, assign.order, whole=True) is None
    assert facts.frozen_at(fc, assign.order) is None
    assert facts.frozen_at(layer4, unfreeze.order) is None, "a new sub-module is not frozen"
    assert facts.frozen_at(root, unfreeze.order + 1) is None


def test_where_shared_loop_and_exclusive_arms():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for epoch in range(3):
            if epoch == 0:
                model.encoder.requires_grad_(False)
            else:
                model.encoder.requires_grad_(True)
            for batch in loader:
                model.pooler.requires_grad_(True)
        model.requires_grad_(False)
        """
    )
    first, second, inner, after = facts.of(FreezeOp)
    assert first.where.exclusive(second.where) and not first.where.exclusive(inner.where)
    assert first.where.shared_loop(inner.where) is first.where.loops[0]
    assert after.where.shared_loop(first.where) is None


def test_optimizer_use_after_a_place_and_what_it_holds():
    facts = facts_of(
        """
        import torch
        from transformers import AutoModelForSequenceClassification
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        head = torch.optim.SGD(model.classifier.parameters(), lr=0.1)
        trainable = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
        mixed = torch.optim.SGD([{"params": model.bert.parameters()}, {"params": [extra]}], lr=0.1)
        for epoch in range(2):
            model.bert.requires_grad_(True)
            head.step()
        """
    )
    head, trainable, mixed = facts.of(OptimizerBuild)
    (unfreeze,) = facts.of(FreezeOp)
    model = facts.models[0]
    bert, classifier = ModuleRef(model, ("bert",)), ModuleRef(model, ("classifier",))
    assert facts.optimizer_used_after(head, unfreeze.where) is not None, "the step runs again after it, in the loop"
    assert facts.optimizer_used_after(trainable, unfreeze.where) is None
    assert head.holds(classifier, frozen_then=False) is True and head.holds(bert, frozen_then=False) is False
    assert trainable.holds(bert, frozen_then=True) is False and trainable.holds(bert, frozen_then=False) is True
    assert mixed.holds(bert, frozen_then=False) is None, "an unknown part may hold anything"


def test_training_after_a_position():
    facts = facts_of(
        """
        from transformers import AutoModel, Trainer
        model = AutoModel.from_pretrained("x")
        Trainer(model=model).train()
        model.requires_grad_(False)
        """
    )
    model = facts.models[0]
    (op,) = facts.of(FreezeOp)
    assert facts.training_of(model) is not None
    assert facts.training_of(model, after=op.order) is None


def test_name_filters_of_freeze_loops():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for name, param in model.named_parameters():
            if "classifier" not in name:
                param.requires_grad = False
        for n, p in model.named_parameters():
            if n.startswith("score"):
                p.requires_grad = True
            else:
                p.requires_grad = False
        for n, p in model.named_parameters():
            p.requires_grad = "head" in n
        """
    )
    not_in, starts, other, assigned = facts.of(FreezeOp)
    assert not_in.name_filter() == ("classifier", False)
    assert starts.name_filter() == ("score", True) and other.name_filter() == ("score", False)
    assert assigned.name_value() == ("head", True) and assigned.name_filter() is None


def test_references_and_spelling():
    facts = facts_of(
        """
        from transformers import AutoModel, Trainer
        def model_init():
            return AutoModel.from_pretrained("x")
        trainer = Trainer(model_init=model_init)
        for p in trainer.model.encoder.parameters():
            p.requires_grad = False
        if args.freeze_encoder or cfg["freeze_encoder"]:
            freeze_encoder = 1
        def f(freeze_encoder=None):
            pass
        """
    )
    mentions = [facts.code(node) for node in facts.references("freeze_encoder")]
    assert mentions == ["args.freeze_encoder", '"freeze_encoder"', "freeze_encoder"]
    (op,) = facts.of(FreezeOp)
    assert facts.spelling(op) == "trainer.model.encoder"


# --- what the no-op freeze rules read -------------------------------------------------------------------------------


def test_comparison_and_uncalled_method_statements_are_attempted_freezes():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for p in model.encoder.parameters():
            p.requires_grad == False
        model.pooler.requires_grad_
        assert model.pooler.dense.weight.requires_grad == False
        """
    )
    comparison, uncalled = facts.of(FreezeOp)
    assert comparison.form is FreezeForm.COMPARISON and comparison.value is False and not comparison.effective
    assert isinstance(comparison.target, ParamRef) and comparison.whole and comparison.loop is not None
    assert uncalled.form is FreezeForm.UNCALLED and uncalled.value is None and not uncalled.effective
    assert uncalled.module.path == ("pooler",)


def test_stop_gradient_true_is_an_attempted_freeze():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for p in model.parameters():
            p.stop_gradient = True
        """
    )
    (op,) = facts.of(FreezeOp)
    assert op.form is FreezeForm.MISSPELLED_STORE and op.value is False and op.attribute == "stop_gradient"


def test_only_detach_clone_and_data_are_copies():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        w = model.pooler.dense.weight
        w.detach().requires_grad_(False)
        w.clone().requires_grad_(False)
        w.to("cuda").requires_grad_(False)
        w.detach_().requires_grad_(False)
        model.vit.embeddings.position_embeddings.data.requires_grad = False
        """
    )
    detach, clone, moved, in_place, data = facts.of(FreezeOp)
    assert detach.target.copy and clone.target.copy
    assert not isinstance(moved.target, ParamRef), "`.to()` may return the parameter itself: unknown"
    assert isinstance(in_place.target, ParamRef) and not in_place.target.copy and in_place.effective
    assert isinstance(data.target, ParamRef) and data.target.copy, "only tensors have `.data`"


def test_names_that_are_parameters_in_some_architectures_are_not_called_modules():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        model.embeddings.position_embeddings.requires_grad = False
        model.embeddings.word_embeddings.requires_grad = False
        """
    )
    ambiguous, module = facts.of(FreezeOp)
    assert ambiguous.target.kind is Kind.UNKNOWN
    assert module.target.kind is Kind.MODULE


def test_module_loops_record_their_filters_and_partial_freezes_are_not_whole():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for name, module in model.named_modules():
            if "layer.1" in name:
                module.requires_grad_(False)
        for i, layer in enumerate(model.encoder.layer):
            if i < 8:
                layer.requires_grad_(False)
        for i, (name, p) in enumerate(model.named_parameters()):
            if i < 3:
                p.requires_grad = False
        for child in list(model.children())[:-1]:
            child.requires_grad_(False)
        """
    )
    by_name, by_index, params, children = facts.of(FreezeOp)
    for op, test in ((by_name, '"layer.1" in name'), (by_index, "i < 8"), (params, "i < 3")):
        assert op.loop is not None and [facts.code(b.test) for b in op.filters] == [test]
        assert not op.whole
    assert children.module.model is facts.models[0] and children.whole


def test_unconsumed_generator_of_freezes_stays_lazy_until_consumed():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        (p.requires_grad_(False) for p in model.encoder.parameters())
        list(p.requires_grad_(False) for p in model.pooler.parameters())
        """
    )
    lazy, consumed = facts.of(FreezeOp)
    assert not lazy.effective and consumed.effective


def test_model_built_from_a_config_and_its_layer_count():
    facts = facts_of(
        """
        from transformers import AutoModel, BertConfig, BertForSequenceClassification, BertTokenizer
        config = BertConfig(num_hidden_layers=6)
        small = BertForSequenceClassification(config)
        tiny = AutoModel.from_pretrained("x", num_hidden_layers=2)
        base = AutoModel.from_pretrained("google-bert/bert-base-uncased")
        unknown = AutoModel.from_pretrained(path)
        tokenizer = BertTokenizer("vocab.txt")
        """
    )
    assert [(m.source, m.num_layers) for m in facts.models] == [
        (ModelSource.FROM_CONFIG, 6),
        (ModelSource.PRETRAINED, 2),
        (ModelSource.PRETRAINED, 12),
        (ModelSource.PRETRAINED, None),
    ]


def test_foreign_framework_models():
    facts = facts_of(
        """
        from transformers import TFBertModel, BertModel
        from paddlenlp.transformers import AutoModel
        a = TFBertModel.from_pretrained("x")
        b = AutoModel.from_pretrained("ernie")
        c = BertModel.from_pretrained("x")
        """
    )
    assert [m.foreign for m in facts.models] == [True, True, False]


def test_freezes_everything_knows_heads_unfreezes_and_parts():
    facts = facts_of(
        """
        from torch import nn
        from transformers import AutoModel, AutoModelForSequenceClassification
        a = AutoModel.from_pretrained("x")
        a.requires_grad = False
        b = AutoModel.from_pretrained("x")
        b.requires_grad = False
        b.pooler.requires_grad = True
        c = AutoModel.from_pretrained("x")
        for p in c.parameters():
            p.require_grad = False
        c.head = nn.Linear(768, 2)
        d = AutoModelForSequenceClassification.from_pretrained("x")
        d.bert.requires_grad = False

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = AutoModel.from_pretrained("x")
                self.encoder.requires_grad = False
                self.head = nn.Linear(768, 2)

        net = Net()
        """
    )
    a, b, _, c, d, inner = facts.of(FreezeOp)
    assert facts.freezes_everything(a)
    assert not facts.freezes_everything(b), "a part is unfrozen afterwards"
    assert not facts.freezes_everything(c), "a new head is added afterwards"
    assert not facts.freezes_everything(d), "the classifier stays"
    assert not facts.freezes_everything(inner), "the encoder is part of a model with a head"


def test_parameter_containers_hold_parameters():
    facts = facts_of(
        """
        import torch
        from torch import nn
        scales = nn.ParameterDict({})
        scales["a"] = nn.Parameter(torch.ones(1))
        scales["a"].requires_grad = False
        for p in nn.ParameterList([nn.Parameter(torch.ones(1))]):
            p.requires_grad = False
        blocks = nn.ModuleList([nn.Linear(2, 2)])
        blocks[0].requires_grad = False
        """
    )
    item, element, block = facts.of(FreezeOp)
    assert isinstance(item.target, ParamRef) and isinstance(element.target, ParamRef)
    assert isinstance(block.target, ModuleRef) and block.target.kind is Kind.MODULE


def test_one_line_compound_statements_are_walked():
    facts = facts_of(
        """
        from transformers import AutoModel
        model = AutoModel.from_pretrained("x")
        for p in model.encoder.parameters(): p.requires_grad = False
        if True: model.pooler.requires_grad_(False)
        """
    )
    loop, branch = facts.of(FreezeOp)
    assert loop.whole and loop.module.path == ("encoder",) and branch.module.path == ("pooler",)


def test_attribute_built_by_unseen_code_is_judged_by_its_name_in_a_module_class():
    facts = facts_of(
        """
        from torch import nn
        from lib import build

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = build()
                self.temperature = build()
                self.backbone.requires_grad = False
                self.temperature.requires_grad = False

        Net()
        """
    )
    backbone, temperature = facts.of(FreezeOp)
    assert isinstance(backbone.target, ModuleRef) and backbone.target.kind is Kind.MODULE
    assert isinstance(temperature.target, ParamRef)


def test_a_transformers_task_model_built_from_a_config_is_a_model():
    facts = facts_of(
        """
        from transformers import BertConfig, BertForSequenceClassification
        model = BertForSequenceClassification(BertConfig())
        """
    )
    (model,) = facts.models
    assert model.source is ModelSource.FROM_CONFIG and model.class_name == "BertForSequenceClassification"


def test_module_outputs_remember_the_module_and_sub_module_calls_are_forwards():
    facts = facts_of(
        """
        import torch.nn as nn
        from torch.utils.checkpoint import checkpoint

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(10, 4)
                self.block = nn.Linear(4, 4)

            def forward(self, tokens):
                hidden = self.embed(tokens)
                return checkpoint(self.block, hidden.detach(), use_reentrant=False)

        net = Net()
        net(tokens)
        """
    )
    from freezelint.facts import Forward, LibraryCall, ModuleCall, ModuleOutput

    forwards = [e.module.model.class_name for e in facts.of(Forward)]
    assert forwards == ["Net", "Embedding"], "`self.embed(tokens)` runs the embedding, it is no method call"
    detach = next(c for c in facts.of(ModuleCall) if c.method == "detach")
    assert isinstance(detach.receiver, ModuleOutput) and detach.receiver.module.model.class_name == "Embedding"
    [call] = [c for c in facts.of(LibraryCall) if c.qualname == "torch.utils.checkpoint.checkpoint"]
    assert call.args[0].model.class_name == "Linear"  # type: ignore[union-attr]


def test_training_of_a_sub_module_needs_training_that_reaches_it():
    facts = facts_of(
        """
        import torch
        import torchvision
        net = torchvision.models.resnet18()
        optimizer = torch.optim.SGD(net.fc.parameters(), lr=0.1)
        for x in loader:
            net(x).sum().backward()
            optimizer.step()
        """
    )
    [net] = facts.models
    assert facts.training_of(ModuleRef(net, ("fc",))) is not None
    assert facts.training_of(ModuleRef(net, ("layer4",))) is None
    assert facts.training_of(net) is not None


def test_backbone_paths_of_known_architectures():
    facts = facts_of(
        """
        from transformers import AutoModelForCausalLM, BertForSequenceClassification, BertModel, GPT2LMHeadModel
        a = BertForSequenceClassification.from_pretrained("bert-base-uncased")
        b = BertModel.from_pretrained("bert-base-uncased")
        c = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
        d = GPT2LMHeadModel.from_pretrained("gpt2")
        """
    )
    a, b, c, d = facts.models
    assert a.backbone_paths() == [("bert",), ("base_model",)]
    assert a.backbone_paths("embeddings") == [("bert", "embeddings"), ("base_model", "embeddings")]
    assert b.backbone_paths("layers") == [("encoder",)]
    assert c.model_type == "llama" and c.backbone_paths("embeddings")[0] == ("model", "embed_tokens")
    assert d.backbone_paths("embeddings") == [], "GPT-2 adds learned positions to its token embeddings: no one block"


def test_checkpointing_settings_are_read_where_they_are_given():
    facts = facts_of(
        """
        from transformers import AutoModel, Trainer, TrainingArguments
        a = AutoModel.from_pretrained("bert-base-uncased")
        a.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
        b = AutoModel.from_pretrained("bert-base-uncased")
        b.activation_checkpointing_enable()
        c = AutoModel.from_pretrained("bert-base-uncased")
        c.gradient_checkpointing_enable(gradient_checkpointing_kwargs=settings)
        d = AutoModel.from_pretrained("bert-base-uncased")
        Trainer(model=d, args=TrainingArguments("out", gradient_checkpointing=True)).train()
        e = AutoModel.from_pretrained("bert-base-uncased")
        Trainer(model=e, args=TrainingArguments("out", gradient_checkpointing=False)).train()
        """
    )
    found = {(c.model.name, c.use_reentrant) for c in facts.checkpointing()}
    assert found == {("a", True), ("b", None), ("d", None)}, "unreadable or switched-off settings are left out"


def test_managed_elsewhere_sees_peft_hooks_and_hand_offs():
    facts = facts_of(
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel
        from helpers import tune
        a = AutoModel.from_pretrained("bert-base-uncased")
        a = get_peft_model(a, LoraConfig(r=8))
        b = AutoModel.from_pretrained("bert-base-uncased")
        b.enable_input_require_grads()
        c = AutoModel.from_pretrained("bert-base-uncased")
        tune(c)
        d = AutoModel.from_pretrained("bert-base-uncased")
        """
    )
    a, _, b, c, d = facts.models
    end = 10**6
    hooks = frozenset({"enable_input_require_grads"})
    assert [facts.managed_elsewhere(ModuleRef(m), end, hooks) for m in (a, b, c, d)] == [True, True, True, False]
    assert not facts.managed_elsewhere(ModuleRef(b), end), "a method counts only when asked for"


def test_new_parameters_after_a_freeze_all_mean_something_trains():
    facts = facts_of(
        """
        import torch.nn as nn
        import torchvision
        a = torchvision.models.resnet18()
        a.requires_grad_(False)
        a.add_module("probe", nn.Linear(1000, 2))
        b = torchvision.models.resnet18()
        b.requires_grad_(False)
        """
    )
    first, second = [op for op in facts.of(FreezeOp)]
    assert not facts.freezes_everything(first) and facts.freezes_everything(second)


def test_peft_apply_knows_its_wrapper():
    facts = facts_of(
        """
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel
        base = AutoModel.from_pretrained("bert-base-uncased")
        model = get_peft_model(base, LoraConfig(r=8))
        base.add_adapter(LoraConfig(r=8))
        """
    )
    wrapped, in_place = facts.of(PeftApply)
    assert wrapped.wrapper is not None and wrapped.wrapper.inner is facts.models[0]
    assert in_place.wrapper is None and in_place.touches(ModuleRef(facts.models[0], ("encoder",)))


def test_runs_after_follows_order_and_loops_but_not_the_other_arm():
    facts = facts_of(
        """
        import torch
        model = torch.nn.Linear(2, 2)
        model.requires_grad_(False)
        for epoch in range(3):
            model.weight.requires_grad_(True)
            if epoch:
                model.bias.requires_grad_(True)
            else:
                model.bias.requires_grad_(False)
        """
    )
    first, in_loop, body, orelse = facts.of(FreezeOp)
    assert in_loop.where.runs_after(first.where) and not first.where.runs_after(in_loop.where)
    assert in_loop.where.runs_after(body.where), "the next pass of the loop"
    assert not body.where.runs_after(orelse.where) and not orelse.where.runs_after(body.where)


def test_partly_frozen_at_sees_name_filtered_freezes_until_undone():
    facts = facts_of(
        """
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained("gpt2")
        for name, param in model.named_parameters():
            if "lora" not in name:
                param.requires_grad = False
        checkpoint_a = 1
        for param in model.parameters():
            param.requires_grad = True
        checkpoint_b = 2
        model.transformer.requires_grad_(False)
        checkpoint_c = 3
        """
    )
    filtered, unfreeze, whole = facts.of(FreezeOp)
    root = ModuleRef(facts.models[0])
    assert not filtered.whole
    assert facts.partly_frozen_at(root, unfreeze.order) is filtered
    assert facts.partly_frozen_at(root, whole.order) is None, "all of it unfrozen again"
    assert facts.partly_frozen_at(root, whole.order + 1) is whole
    assert facts.frozen_at(root, unfreeze.order) is None, "frozen_at only knows whole freezes"


def test_loop_changing_names_and_mentions():
    module = cst.parse_module("for epoch, batch in enumerate(loader):\n    step += 1\n    x = layer[-epoch]\n")
    loop = Loop(module.body[0], UNKNOWN)
    assert loop.changing_names() == {"epoch", "batch", "step"}
    assign = module.body[0].body.body[1]
    assert mentions(assign, {"epoch"}) and not mentions(assign, {"batch"})
