"""torch.nn: modules and their sub-modules, parameters and parameter sets, `requires_grad` in every spelling, layers,
tensors and gradient contexts."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries import peft
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.syntax import argument, dotted, literal
from freezelint.analysis.walk_values import GradContext, IterableOf, LibraryObject, ListValue, flatten
from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    UNKNOWN,
    Backward,
    DictValue,
    Forward,
    FreezeForm,
    Imported,
    InFileClass,
    InFileFunction,
    Kind,
    Model,
    ModelSource,
    ModuleCall,
    ModuleIter,
    ModuleOutput,
    ModuleRef,
    ParamGroups,
    ParamName,
    ParamRef,
    ParamSet,
    TupleValue,
    Unknown,
    Value,
    as_ref,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter

_MODULE_NAMES = re.compile(
    r"(^|_)(bert|roberta|deberta|distilbert|albert|electra|xlnet|gpt2?|llama|t5|bart|vit|clip|wav2vec2|hubert|whisper"
    r"|encoder|decoder|backbone|body|stem|trunk|neck|head|heads|classifier|embeddings|embedder|transformer|model"
    r"|layers?|blocks?|features|extractor|feature_extractor|resnet|cnn|rnn|lstm|gru|conv\d*|fc\d*|mlp|ffn|attention"
    r"|attn|pooler|projection|proj|projector|adapter|net|network|module|modules|tower|text_model|vision_model"
    r"|language_model|visual|lm|lm_head|qformer|unet|vae|text_encoder|image_encoder|patch_embed|embed_tokens)($|_|\d)",
    re.IGNORECASE,
)
_TENSOR_FACTORIES = re.compile(
    r"^torch\.(zeros|ones|randn|rand|empty|full|tensor|arange|linspace|eye|randint|zeros_like|ones_like|randn_like"
    r"|empty_like|full_like|from_numpy|as_tensor|stack|cat)$"
)
_GRAD_OFF = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad")
_GRAD_SWITCH = ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled")


def named_result(walk: Interpreter, name: str, value: Value, value_node: cst.BaseExpression) -> Value:
    """What a name is bound to. A call the analysis cannot see into (a project's own builder or class, a class chosen
    by configuration) whose result is bound to a name that says it is a model (`model = build_model(cfg)`,
    `self.backbone = opt.backbone_class(opt).to(device)`) makes a module of unknown layout, known by that name only."""
    unseen = value is UNKNOWN or (isinstance(value, LibraryObject) and not value.qualname.startswith(kb.FOREIGN_FRAMEWORKS))
    if not unseen or not isinstance(value_node, cst.Call) or not kb.MODEL_VARIABLE.match(name) or _foreign_file(walk):
        return value
    callee = value_node.func
    while isinstance(callee, cst.Attribute) and isinstance(callee.value, cst.Call):
        callee = callee.value.func  # `build(cfg).to(device)`: the builder
    written = dotted(callee) if isinstance(callee, (cst.Name, cst.Attribute)) else None
    factory = f"{written}(...)" if written else "code it cannot see"
    return walk.new_model(ModelSource.UNSEEN, factory, value_node, class_name=None)


def inherited_attribute(walk: Interpreter, cls: InFileClass, name: str) -> Value:
    """An attribute of `self` that no code of the file assigns, in a class whose base lies in another file: a model
    when its name says so (`self.teacher_model` of a distiller that hands it to its base class), else UNKNOWN."""
    if not kb.MODEL_VARIABLE.match(name) or all(isinstance(b, InFileClass) for base in cls.bases for b in base.candidates()):
        return UNKNOWN
    if _foreign_file(walk):
        return UNKNOWN
    return walk.new_model(ModelSource.UNSEEN, f"self.{name}", cls.node, class_name=None)


def abstract_argument(walk: Interpreter, name: str, annotation: cst.BaseExpression | None, node: cst.Param) -> Value:
    """The value of a parameter of a function nothing in the file calls: a model of unknown layout when its
    annotation names a module class (`nn.Module`, `BertModel`, `Union[str, PreTrainedModel]`) or its name says it is
    a model (`model`, `backbone`, `teacher`); UNKNOWN otherwise."""
    annotated = annotation is not None and any(
        isinstance(option, Imported) and _module_class_name(option.qualname)
        for part in _annotation_names(annotation) for option in walk.eval(part).candidates()
    )
    if (not annotated and not kb.MODEL_VARIABLE.match(name)) or _foreign_file(walk):
        return UNKNOWN
    return walk.new_model(ModelSource.UNSEEN, f"argument `{name}`", node, class_name=None, names=[name])


def narrowed_by_isinstance(walk: Interpreter, name: str, classes: cst.BaseExpression, node: cst.CSTNode) -> Value | None:
    """What `name` holds after `if not isinstance(name, nn.Linear): raise ...`: a module of unknown layout when the
    class tested is a module class (`nn.Linear`, `nn.Module`, `PreTrainedModel`); None otherwise."""
    tested = [option for part in _annotation_names(classes) for option in walk.eval(part).candidates()]
    if not tested or not all(isinstance(option, Imported) and _module_class_name(option.qualname) for option in tested):
        return None
    if _foreign_file(walk):
        return None
    checked = f"isinstance({name}, {walk.facts.code(classes)})"  # the evidence: what it is, not where it came from
    return walk.new_model(ModelSource.UNSEEN, checked, node, class_name=None, names=[name])


def _foreign_file(walk: Interpreter) -> bool:
    """A file of another framework (Keras, TensorFlow, Paddle, JAX...) and not of torch: its models are not modules."""
    packages = {qualname.split(".", 1)[0] for qualname in walk.facts.imports}
    return bool(packages & set(kb.FOREIGN_FRAMEWORKS)) and not packages & set(kb.TORCH_PACKAGES)


def _annotation_names(annotation: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The names an annotation mentions (`Union[str, BertModel]`: `Union`, `str`, `BertModel`)."""
    found: list[cst.BaseExpression] = []
    stack: list[cst.CSTNode] = [annotation]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute)):
            found.append(node)
        elif isinstance(node, cst.Subscript):
            stack.append(node.value)
            stack.extend(element.slice.value for element in node.slice if isinstance(element.slice, cst.Index))
        elif isinstance(node, cst.BinaryOperation):  # `BertModel | None`
            stack.extend((node.left, node.right))
    return found


def _module_class_name(qualname: str) -> bool:
    last = qualname.rsplit(".", 1)[-1]
    return qualname in kb.MODULE_BASES or _torch_layer(qualname) or (
        qualname.split(".", 1)[0] in kb.MODEL_LIBRARIES and bool(kb.MODEL_CLASS_NAME.search(last))
    )


def module_like_name(name: str) -> bool:
    """Attribute names that, off an nn.Module of unknown layout, are evidence of a sub-module."""
    return bool(_MODULE_NAMES.search(name))


# --- attributes, subscripts, iteration ---------------------------------------------------------------------------------


def attribute(walk: Interpreter, owner: Value, name: str) -> Value:
    if isinstance(owner, ModuleOutput):
        return owner  # `teacher(x).logits`, `.last_hidden_state`: still that module's output
    if isinstance(owner, Model):
        owner = ModuleRef(owner)
    if isinstance(owner, ModuleRef):
        return module_attribute(walk, owner, name)
    if isinstance(owner, ParamRef) and name == "data":
        return replace(owner, copy=True)
    return UNKNOWN


def module_attribute(walk: Interpreter, ref: ModuleRef, attribute: str) -> Value:
    model = ref.model
    if attribute in kb.UNWRAPPING_ATTRIBUTES and (ref.wrapper is not None or attribute == "_orig_mod"):
        return replace(ref, wrapper=None)
    if not ref.path:
        # An in-file module's attribute assigned from code the analysis cannot see (`self.backbone =
        # build_backbone(cfg)`) is judged by its name below, like one never assigned.
        unseen = model.cls is not None and isinstance(model.attrs.get(attribute), Unknown)
        if attribute in model.attrs and not unseen:
            return _normalize(model.attrs[attribute], ModuleRef(model, (attribute,), Kind.PARAMETER, ref.wrapper))
        if model.cls is not None:
            found = walk.class_attribute(model.cls, attribute, ref)
            if found is not UNKNOWN:
                return found
        if model.inner is not None and attribute == "base_model":
            return ModuleRef(model, ("base_model",))
    if attribute in kb.MODULE_NON_MODULE_ATTRIBUTES:
        return UNKNOWN
    if attribute == "data":
        # Modules have no `.data`: the reference was a parameter or tensor, and this is a detached view of it.
        return ParamRef(owner=replace(ref, kind=Kind.PARAMETER), copy=True)
    path = (*ref.path, attribute)
    if kb.PARAMETER_ATTRIBUTE.match(attribute):
        return ParamRef(owner=ModuleRef(model, path, Kind.PARAMETER, ref.wrapper, ref.by_name))
    if ref.kind is Kind.PARAMETER:
        return UNKNOWN
    kind, by_name = classify(ref, attribute)
    return ModuleRef(model, path, kind, ref.wrapper, ref.by_name or by_name)


def classify(parent: ModuleRef, attribute: str) -> tuple[Kind, bool]:
    """Is `parent.attribute` a sub-module, and is that judged by its name alone? Library models are made of modules;
    in-file classes need evidence, and an attribute the file never assigns has only its name."""
    model = parent.model
    if attribute in kb.LIBRARY_TENSOR_NAMES:
        return Kind.UNKNOWN, False  # an nn.Parameter in some architectures, a sub-module in others
    library_model = model.source is not ModelSource.CUSTOM or model.library is not None
    if parent.kind is Kind.MODULE and library_model:
        return Kind.MODULE, False
    return (Kind.MODULE, True) if module_like_name(attribute) else (Kind.UNKNOWN, False)


def subscript(walk: Interpreter, option: Value, node: cst.Subscript, key: object) -> Value:
    """`layers[3]`, `model.encoder.layer[:8]`, `list(model.parameters())[:-2]`, a `state_dict()` entry."""
    component = _subscript_component(node)
    if isinstance(option, Model):
        option = ModuleRef(option)
    if isinstance(option, ModuleRef) and _holds_parameters(option):
        return ParamRef(owner=replace(option, path=(*option.path, component), kind=Kind.PARAMETER), node=node)
    if isinstance(option, ModuleRef):
        kind = option.kind if option.kind is not Kind.PARAMETER else Kind.UNKNOWN
        return replace(option, path=(*option.path, component), kind=kind)
    if isinstance(option, ParamSet) and option.copies:
        return ParamRef(owner=option.module, source=option, copy=True, node=node)
    if isinstance(option, ModuleOutput):
        return option  # `encoder(x)[0]`: still that module's output
    if isinstance(option, (ParamSet, ModuleIter)) and component != ANY_CHILD:
        # `list(model.parameters())[:-2]`, `list(model.children())[0]`: a part of what iterating yields.
        if isinstance(key, int):
            return walk.element_of(option)
        if isinstance(option, ParamSet):
            return replace(option, node=node, name_filtered=True)
        return option
    return UNKNOWN


def element(walk: Interpreter, option: Value) -> Value:
    """What iterating a module, a parameter set or a module iteration yields."""
    if isinstance(option, ParamSet):
        param = ParamRef(owner=option.module, source=option, copy=option.copies, node=option.node)
        return TupleValue((ParamName(option), param)) if option.named else param
    if isinstance(option, ParamGroups):
        sets = list(option.sets())
        return one_of([element(walk, s) for s in sets]) if sets else UNKNOWN
    if isinstance(option, ModuleIter):
        component = ANY_DESCENDANT if option.recursive else ANY_CHILD
        child = ModuleRef(option.module.model, (*option.module.path, component), Kind.MODULE, option.module.wrapper)
        return TupleValue((UNKNOWN, child)) if option.named else child
    if isinstance(option, (Model, ModuleRef)) and _holds_parameters(as_ref(option)):
        ref = as_ref(option)
        assert ref is not None
        return ParamRef(owner=replace(ref, path=(*ref.path, ANY_CHILD), kind=Kind.PARAMETER))
    if isinstance(option, Model):
        return ModuleRef(option, (ANY_CHILD,))
    if isinstance(option, ModuleRef):
        return replace(option, path=(*option.path, ANY_CHILD), kind=Kind.MODULE if option.kind is Kind.MODULE else option.kind)
    return UNKNOWN


def draws(iterates: Value, value: Value) -> bool:
    """True when a loop over `iterates` is what binds `value`: it draws the parameter from its set, or yields the
    sub-module (`named_modules()`, a ModuleList)."""
    if isinstance(value, ParamRef) and value.source is not None:
        source = value.source
        return any(_draws_from(option, source) for option in iterates.candidates())
    if isinstance(value, ModuleRef) and any(c in (ANY_CHILD, ANY_DESCENDANT) for c in value.path):
        return any(_yields_module(option, value) for option in iterates.candidates())
    return False


def collected(walk: Interpreter, element: Value, node: cst.CSTNode, one_shot: bool) -> ParamSet | None:
    """A comprehension or append loop over parameters: the subset it keeps, judged by its `if` tests."""
    named = False
    if isinstance(element, TupleValue) and len(element.items) == 2 and isinstance(element.items[1], ParamRef):
        element, named = element.items[1], True
    if not isinstance(element, ParamRef) or element.source is None:
        return None
    _, filters = walk.filters_for(element)
    only_trainable = name_filtered = False
    for branch in filters:
        if branch.test is None:
            continue
        if keeps_trainable(branch.test):
            only_trainable = True
        else:
            name_filtered = True
    source = element.source
    return ParamSet(
        module=source.module,
        node=node,
        named=named,
        only_trainable=only_trainable or source.only_trainable,
        name_filtered=name_filtered or source.name_filtered,
        one_shot=one_shot,
        copies=source.copies or element.copy,
        guards=(*source.guards, *filters),
    )


def filtered(walk: Interpreter, iterable: Value, predicate: Value, node: cst.Call) -> Value:
    """`filter(predicate, params)`: the parameters the predicate keeps."""
    if not isinstance(iterable, ParamSet):
        return UNKNOWN
    trainable = isinstance(predicate, InFileFunction) and keeps_trainable(_returned(predicate.node))
    return ParamSet(
        module=iterable.module,
        node=node,
        named=iterable.named,
        only_trainable=trainable or iterable.only_trainable,
        name_filtered=not trainable or iterable.name_filtered,
        one_shot=True,
        copies=iterable.copies,
    )


def keeps_trainable(test: cst.BaseExpression | None) -> bool:
    """True when a test keeps only parameters that require grad: `p.requires_grad` (`is True`, `== True`,
    `!= False`), alone or joined by `and` to other tests. The one reading of "trainable only" for comprehensions,
    append loops and `filter`."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return keeps_trainable(test.left) or keeps_trainable(test.right)
    if _reads_requires_grad(test):
        return True
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and _reads_requires_grad(test.left):
        target = test.comparisons[0]
        flag = literal(target.comparator)
        if isinstance(target.operator, (cst.Equal, cst.Is)):
            return flag is True
        if isinstance(target.operator, (cst.NotEqual, cst.IsNot)):
            return flag is False
    return False


def _reads_requires_grad(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "requires_grad"


def _returned(node: cst.FunctionDef | cst.Lambda) -> cst.BaseExpression | None:
    """What a lambda, or a function whose body is one `return`, returns."""
    if isinstance(node, cst.Lambda):
        return node.body
    body = node.body.body
    if len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) and len(body[0].body) == 1:
        statement = body[0].body[0]
        if isinstance(statement, cst.Return):
            return statement.value
    return None


# --- requires_grad in every spelling ------------------------------------------------------------------------------------


def attempted_freeze(walk: Interpreter, expression: cst.BaseExpression) -> bool:
    """`x.requires_grad == v` (one `==`), or a bare `x.requires_grad_` or `x.requires_grad`, as a statement: a freeze
    meant, nothing done.
    Records it and returns True; False for any other expression."""
    attempt = _attempted_freeze(expression)
    if attempt is None:
        return False
    receiver, form, value_node = attempt
    flag = literal(value_node)
    owner = walk.eval(receiver)
    if value_node is not None:
        walk.eval(value_node)
    for option in owner.candidates():
        walk.freeze(expression, option, flag if isinstance(flag, bool) else None, form, "requires_grad", value_node)
    return True


def stored_flag(walk: Interpreter, target: cst.Attribute, owner: Value, value_node: cst.BaseExpression) -> bool:
    """`x.requires_grad = v`, a misspelling or another framework's freeze attribute (`x.trainable = v`), or
    `x.requires_grad_ = v`: recorded as a freeze of what `x` is; True when the attribute was one of those."""
    attribute = target.attr.value
    if attribute == "requires_grad":
        form = FreezeForm.STORE
    elif attribute in kb.MISSPELLED_REQUIRES_GRAD or attribute in kb.FOREIGN_FREEZE_ATTRIBUTES:
        form = FreezeForm.MISSPELLED_STORE
    elif attribute == "requires_grad_":
        form = FreezeForm.METHOD_OVERWRITE
    else:
        return False
    flag = literal(value_node)
    if isinstance(flag, bool) and attribute in kb.INVERTED_FREEZE_ATTRIBUTES:
        flag = not flag  # `stop_gradient = True` means to freeze
    for option in owner.candidates():
        walk.freeze(target, option, flag if isinstance(flag, bool) else None, form, attribute, value_node)
    return True


def _attempted_freeze(expression: cst.BaseExpression) -> tuple[cst.BaseExpression, FreezeForm, cst.BaseExpression | None] | None:
    """`x.requires_grad == v` (one `==`), a bare `x.requires_grad_` or a bare `x.requires_grad`: the receiver, the form
    and the value meant."""
    if isinstance(expression, cst.Attribute) and expression.attr.value == "requires_grad_":
        return expression.value, FreezeForm.UNCALLED, None
    if isinstance(expression, cst.Attribute) and expression.attr.value == "requires_grad":
        return expression.value, FreezeForm.READ, None
    if (
        isinstance(expression, cst.Comparison)
        and len(expression.comparisons) == 1
        and isinstance(expression.comparisons[0].operator, cst.Equal)
        and isinstance(expression.left, cst.Attribute)
        and expression.left.attr.value == "requires_grad"
    ):
        return expression.left.value, FreezeForm.COMPARISON, expression.comparisons[0].comparator
    return None


def _requires_grad_flag(node: cst.Call) -> bool | None:
    """The flag `requires_grad_(...)` sets: its literal argument, True when called without one (the default)."""
    given = argument(node, 0, "requires_grad")
    if given is None:
        return True
    flag = literal(given)
    return flag if isinstance(flag, bool) else None


# --- modules and parameters called, and their methods ------------------------------------------------------------------


def call_module(walk: Interpreter, callee: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """`model(**batch)`: the module's forward."""
    if isinstance(callee, (Model, ModuleRef)):
        ref = callee if isinstance(callee, ModuleRef) else ModuleRef(callee)
        return forward(walk, ref, args, kwargs, node)
    return None


def forward(walk: Interpreter, ref: ModuleRef, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    walk.emit(Forward(walk.where(node), module=ref))
    model = ref.model
    if not ref.path and model.cls is not None:
        method = model.cls.find_method("forward")
        if method is not None:
            return walk.call_function(method, args, kwargs, node, self_value=ref)
    return ModuleOutput(ref, (*args, *kwargs.values()))


def method(walk: Interpreter, receiver: Value, name: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """A method called on a module, a parameter or a parameter set; on anything else, what torch semantics say of
    the name alone (`backward()`, `requires_grad_()`, a model's own freeze helper). None: not known here."""
    if isinstance(receiver, Model):
        receiver = ModuleRef(receiver)
    if isinstance(receiver, ModuleRef):
        return module_method(walk, receiver, name, args, kwargs, node)
    if isinstance(receiver, ParamRef):
        return param_method(walk, receiver, name, args, kwargs, node)
    if isinstance(receiver, ParamSet):
        if receiver.copies and name in ("items", "values"):
            return replace(receiver, named=name == "items")
        return UNKNOWN
    if isinstance(receiver, ModuleOutput) and name != "backward":
        # `self.backbone(x).detach()`: what is done with a module's output (gradients cut off after it).
        walk.emit(ModuleCall(walk.where(node), receiver=receiver, method=name, call=node, args=tuple(args), kwargs=kwargs))
    if name == "backward":
        walk.emit(Backward(walk.where(node)))
        return UNKNOWN
    if name == "requires_grad_" and isinstance(receiver, Unknown):
        walk.freeze(node, receiver, _requires_grad_flag(node), FreezeForm.CALL, name, argument(node, 0, "requires_grad"))
        return UNKNOWN
    if name.lower() in kb.FREEZE_METHODS and isinstance(receiver, Unknown):
        walk.freeze(node, receiver, kb.FREEZE_METHODS[name.lower()], FreezeForm.HELPER, name, partial=True)
        return UNKNOWN
    return None


def module_method(walk: Interpreter, ref: ModuleRef, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    model = ref.model
    held = [as_ref(option) for option in model.attrs[method].candidates()] if not ref.path and method in model.attrs else []
    if held and all(sub is not None for sub in held):
        # `self.encoder(x)`: a sub-module assigned in this file, called on inputs.
        return one_of([forward(walk, sub, args, kwargs, node) for sub in held if sub is not None])
    walk.emit(ModuleCall(walk.where(node), receiver=ref, method=method, call=node, args=tuple(args), kwargs=kwargs))
    # A method the file defines on its own class runs its body.
    if not ref.path and model.cls is not None:
        defined = model.cls.find_method(method)
        if defined is not None:
            return walk.call_function(defined, args, kwargs, node, self_value=ref)
    if method in kb.PARAMETER_ITERATORS:
        return ParamSet(module=ref, node=node, named=kb.PARAMETER_ITERATORS[method], guards=walk.context.branches)
    if method in kb.MODULE_ITERATORS:
        named = kb.MODULE_ITERATORS[method]
        return ModuleIter(ref, named=named, recursive=method in ("modules", "named_modules"))
    if method == "state_dict":
        return ParamSet(module=ref, node=node, named=True, one_shot=False, copies=True)
    if method in kb.TENSOR_COPY_METHODS:
        # Modules have no `detach()`/`clone()`: the reference was a parameter or tensor; this is a copy of it.
        return ParamRef(owner=replace(ref, kind=Kind.PARAMETER), copy=True, node=node)
    if method == "requires_grad_":
        walk.freeze(node, ref, _requires_grad_flag(node), FreezeForm.CALL, method, argument(node, 0, "requires_grad"))
        return ref
    if method.lower() in kb.FREEZE_METHODS:  # a model's own helper, in any case (`Unfreeze_backbone()`)
        part = _named_part(ref, method)
        if part is not None:  # a project model's `freeze_backbone()`: its backbone, by the method's name
            walk.freeze(node, part, kb.FREEZE_METHODS[method.lower()], FreezeForm.HELPER, method)
        else:
            walk.freeze(node, ref, kb.FREEZE_METHODS[method.lower()], FreezeForm.HELPER, method, partial=True)
        return UNKNOWN
    adapted = peft.module_method(walk, ref, method, args, kwargs, node)
    if adapted is not None:
        return adapted
    if method in kb.SUBMODULE_METHODS:
        name = literal(argument(node, 0, "target"))
        if method == "get_submodule" and isinstance(name, str):
            return ModuleRef(model, (*ref.path, *name.split(".")), Kind.MODULE, ref.wrapper)
        return ModuleRef(model, (*ref.path, f"{method}()"), Kind.MODULE, ref.wrapper)
    if method in kb.SELF_RETURNING_METHODS:
        if method == "apply" and args and isinstance(args[0], InFileFunction):
            descendant = ModuleRef(model, (*ref.path, ANY_DESCENDANT), Kind.MODULE, ref.wrapper)
            walk.call_function(args[0], [descendant], {}, node)
        return ref
    if method == "forward":
        return forward(walk, ref, args, kwargs, node)
    if method == "backward":
        walk.emit(Backward(walk.where(node)))
    return UNKNOWN


def param_method(walk: Interpreter, ref: ParamRef, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    if method == "requires_grad_":
        walk.freeze(node, ref, _requires_grad_flag(node), FreezeForm.CALL, method, argument(node, 0, "requires_grad"))
        return ref
    if method in kb.TENSOR_COPY_METHODS:
        return replace(ref, copy=True, node=node)
    if method == "detach_":
        return ref  # in place: on a leaf parameter it clears requires_grad of the parameter itself
    if method == "backward":
        walk.emit(Backward(walk.where(node)))
    walk.emit(ModuleCall(walk.where(node), receiver=ref, method=method, call=node, args=tuple(args), kwargs=kwargs))
    return UNKNOWN


# --- classes of this file that are modules ---------------------------------------------------------------------------


def is_module_class(cls: InFileClass) -> bool:
    """A subclass of `nn.Module`, of a layer of `torch.nn` (`class MeanShift(nn.Conv2d)`), of a Lightning module or of
    a transformers model."""
    return any(base in kb.MODULE_BASES or kb.PRETRAINED_BASE.match(base) or _torch_layer(base) for base in cls.library_bases())


def _torch_layer(qualname: str) -> bool:
    parts = qualname.split(".")
    return len(parts) == 3 and parts[:2] == ["torch", "nn"] and parts[2][:1].isupper() and parts[2] not in kb.TORCH_NN_NON_MODULES


def subclass_instance(
    walk: Interpreter, cls: InFileClass, args: list[Value], kwargs: dict[str, Value], node: cst.Call, factory: str | None
) -> Model | None:
    """An instance of an in-file `nn.Module` subclass (or one made by its inherited `from_pretrained`/`from_config`),
    its `__init__` walked with the arguments."""
    if not is_module_class(cls) and factory is None:
        return None
    source = ModelSource.PRETRAINED if factory == "from_pretrained" else (ModelSource.FROM_CONFIG if factory else ModelSource.CUSTOM)
    checkpoint = literal(argument(node, 0, "pretrained_model_name_or_path")) if factory else None
    model = walk.new_model(
        source, f"{cls.qualname}.{factory}" if factory else cls.qualname, node, class_name=cls.name, cls=cls,
        checkpoint=checkpoint if isinstance(checkpoint, str) else None,
    )
    model.factory = f"{cls.name}.{factory}" if factory else cls.name
    init = cls.find_method("__init__")
    if init is not None:
        walk.call_function(init, [] if factory else args, {} if factory else kwargs, node, self_value=model)
    return model


def decorated_no_grad(node: cst.FunctionDef | cst.Lambda) -> bool:
    """`@torch.no_grad()` or `@torch.inference_mode()` on a function: gradients are off in its body."""
    if not isinstance(node, cst.FunctionDef):
        return False
    for decorator in node.decorators:
        expression = decorator.decorator
        name = dotted(expression.func if isinstance(expression, cst.Call) else expression) or ""
        if name.endswith(("no_grad", "inference_mode")):
            return True
    return False


# --- calls of torch (and freeze helpers of any library) ----------------------------------------------------------------


def freeze_function(walk: Interpreter, site: CallSite) -> Value | None:
    """A library function that freezes its first argument (`timm.utils.freeze`, `prepare_model_for_kbit_training`),
    or one the project's configuration names as its own freeze helper (`freeze-helpers`)."""
    qualname = site.qualname
    if qualname not in kb.FREEZE_FUNCTIONS and qualname not in walk.facts.options.freeze_helpers:
        return None
    form = FreezeForm.KBIT_PREPARE if "prepare_model_for" in qualname else FreezeForm.HELPER
    model = site.first if site.args else site.kwargs.get("model", site.kwargs.get("module", UNKNOWN))
    # A project's own helper freezes some of its argument; which part, the configuration does not say.
    partial = qualname not in kb.FREEZE_FUNCTIONS
    for option in model.candidates():
        walk.freeze(site.node, option, kb.FREEZE_FUNCTIONS.get(qualname, False), form, site.last, partial=partial)
    return model


def backward_function(walk: Interpreter, site: CallSite) -> Value | None:
    """`accelerator.backward(loss)`, `fabric.backward(loss)`: gradients flow as with `loss.backward()`."""
    if site.last != "backward" or site.receiver is None:
        return None
    walk.emit(Backward(walk.where(site.node)))
    return UNKNOWN


def constructor(walk: Interpreter, site: CallSite) -> Value | None:
    """`nn.Parameter(...)`, and the layers of `torch.nn` (`nn.Linear(...)`, `nn.Sequential(a, b)`)."""
    qualname, last = site.qualname, site.last
    if not (qualname.startswith("torch.nn.") and qualname.count(".") == 2):
        return None
    if last == "Parameter":
        return ParamRef(new=True, node=site.node)
    if not last[:1].isupper() or last in kb.TORCH_NN_NON_MODULES:
        return None
    layer = walk.new_model(ModelSource.LAYER, qualname, site.node, class_name=last, library="torch")
    if last in ("Sequential", "ModuleList"):
        for index, part in enumerate(flatten(site.args)):
            layer.attrs[f"[{index}]"] = part
    elif last == "ModuleDict" and site.args and isinstance(site.args[0], DictValue):
        layer.attrs.update({f"[{k!r}]": v for k, v in site.args[0].entries.items()})
    return layer


def same_module(walk: Interpreter, site: CallSite) -> Value | None:
    """`nn.SyncBatchNorm.convert_sync_batchnorm(model)`: the same model, its BatchNorm layers converted."""
    if site.qualname in ("torch.nn.SyncBatchNorm.convert_sync_batchnorm", "torch.nn.modules.batchnorm.SyncBatchNorm.convert_sync_batchnorm"):
        return site.first if site.args else site.kwargs.get("module", UNKNOWN)
    return None


def tensor_factory(walk: Interpreter, site: CallSite) -> Value | None:
    """`torch.zeros(...)`, `torch.randn(...)`: a plain tensor, evidence that it is not a module."""
    return ParamRef(node=site.node) if _TENSOR_FACTORIES.match(site.qualname) else None


def grad_context(walk: Interpreter, site: CallSite) -> Value | None:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.enable_grad()`, `torch.set_grad_enabled(flag)`."""
    if site.qualname in _GRAD_OFF:
        return GradContext(enabled=False)
    if site.qualname == "torch.enable_grad":
        return GradContext(enabled=True)
    if site.qualname in _GRAD_SWITCH:
        flag = literal(argument(site.node, 0, "mode"))
        return GradContext(enabled=bool(flag)) if isinstance(flag, bool) else UNKNOWN
    return None


# --- small helpers ----------------------------------------------------------------------------------------------------


_FREEZE_PART = re.compile(r"^(?:un)?freeze_(backbone|encoder|decoder|vision_tower|embeddings)$", re.IGNORECASE)


def _named_part(ref: ModuleRef, method: str) -> ModuleRef | None:
    """The part a project model's own `freeze_backbone()` (or `unfreeze_encoder()`...) freezes, by the method's name,
    for a model whose code the analysis cannot see; None for library models, whose helpers it knows."""
    match = _FREEZE_PART.match(method)
    if match is None or ref.model.source not in (ModelSource.UNSEEN, ModelSource.CUSTOM) or ref.model.library is not None:
        return None
    return ModuleRef(ref.model, (*ref.path, match.group(1).lower()), Kind.MODULE, ref.wrapper, by_name=True)


def _holds_parameters(ref: ModuleRef | None) -> bool:
    """`nn.ParameterList` / `nn.ParameterDict`: its items are parameters, not sub-modules."""
    return ref is not None and not ref.path and ref.model.class_name in kb.PARAMETER_CONTAINERS


def _normalize(value: Value, place: ModuleRef) -> Value:
    """An attribute holding a model is a reference to that model's root; a parameter attribute learns its owner."""
    results: list[Value] = []
    for option in value.candidates():
        if isinstance(option, Model):
            option = ModuleRef(option)
        elif isinstance(option, ParamRef) and option.owner is None and not option.copy:
            option = replace(option, owner=place)
        results.append(option)
    return one_of(results)


def _subscript_component(node: cst.Subscript) -> str:
    """A subscript as a path component: `[3]`, `['head']`, `[:8]`; `[*]` for one that cannot be read."""
    if len(node.slice) != 1:
        return ANY_CHILD
    element = node.slice[0].slice
    if isinstance(element, cst.Index):
        value = literal(element.value)
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            return f"[{value!r}]" if isinstance(value, str) else f"[{value}]"
        return ANY_CHILD
    if isinstance(element, cst.Slice):
        lower, upper = literal(element.lower), literal(element.upper)
        if element.step is None and lower in (NotImplemented, None) and upper in (NotImplemented, None):
            if element.lower is None and element.upper is None:
                return "[:]"
        parts = ["" if b is None else (str(v) if v is not NotImplemented else "?") for b, v in ((element.lower, lower), (element.upper, upper))]
        return f"[{parts[0]}:{parts[1]}]"
    return ANY_CHILD


def _draws_from(iterated: Value, source: ParamSet) -> bool:
    if iterated is source:
        return True
    if isinstance(iterated, ParamGroups):
        return any(part is source for part in iterated.sets())
    if isinstance(iterated, IterableOf):
        # `enumerate(...)`, `zip(...)`, `d.items()`: the elements were drawn already (or are sets themselves).
        return any(
            _draws_from(leaf, source) or (isinstance(leaf, ParamRef) and leaf.source is source)
            for leaf in _leaves(iterated.element)
        )
    return False


def _yields_module(iterated: Value, ref: ModuleRef) -> bool:
    """True when iterating `iterated` (`m.named_modules()`, a ModuleList, `enumerate(...)` of those) yields the
    sub-module that `ref` is, or contains."""
    if isinstance(iterated, IterableOf):
        return any(
            isinstance(leaf, ModuleRef) and leaf.model is ref.model and ref.path[: len(leaf.path)] == leaf.path
            for leaf in _leaves(iterated.element)
        )
    if isinstance(iterated, ModuleIter):
        parent, step = iterated.module, ANY_DESCENDANT if iterated.recursive else ANY_CHILD
    elif isinstance(iterated, Model):
        parent, step = ModuleRef(iterated), ANY_CHILD
    elif isinstance(iterated, ModuleRef):
        parent, step = iterated, ANY_CHILD
    else:
        return False
    return parent.model is ref.model and ref.path[: len(parent.path) + 1] == (*parent.path, step)


def _leaves(value: Value, depth: int = 0) -> Iterator[Value]:
    """The values inside (nested) tuples: the loop variables one iteration binds."""
    for option in value.candidates():
        if isinstance(option, (TupleValue, ListValue)) and depth < 4:
            for item in option.items:
                yield from _leaves(item, depth + 1)
        else:
            yield option
