"""Vision model factories: timm's `create_model`, torchvision's `models.resnet50(...)`, torch.hub, open_clip,
Sentence-Transformers: pretrained models made by a function rather than a class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from freezelint import knowledge as kb
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.syntax import literal
from freezelint.facts import UNKNOWN, ModelSource, TupleValue, Value

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def model_factory(walk: Interpreter, site: CallSite) -> Value | None:
    qualname, last = site.qualname, site.last
    if qualname not in kb.MODEL_FACTORIES and not (qualname.startswith(kb.TORCHVISION_MODELS) and last[:1].islower()):
        return None
    library = kb.MODEL_FACTORIES.get(qualname, "torchvision")
    checkpoint = literal(site.literal_argument(0, "model_name"))
    model = walk.new_model(
        ModelSource.FACTORY, qualname, site.node, class_name=checkpoint if isinstance(checkpoint, str) else last,
        checkpoint=checkpoint if isinstance(checkpoint, str) else None, library=library,
    )
    if qualname.endswith("create_model_and_transforms"):
        return TupleValue((model, UNKNOWN, UNKNOWN))
    return model
