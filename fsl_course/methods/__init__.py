"""Few-shot methods behind one interface (see ``base.py``), by name."""

import inspect

from fsl_course.methods.base import FewShotMethod
from fsl_course.methods.baseline import Baseline
from fsl_course.methods.maml import MAML
from fsl_course.methods.matching import MatchingNet
from fsl_course.methods.pixel import PixelNN
from fsl_course.methods.protonet import ProtoNet
from fsl_course.methods.relation import RelationNet

METHODS: dict[str, type[FewShotMethod]] = {
    cls.name: cls for cls in (MatchingNet, ProtoNet, RelationNet, PixelNN, Baseline, MAML)
}


def build_method(name: str, **config) -> FewShotMethod:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    allowed = [p for p in inspect.signature(METHODS[name]).parameters]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has no option {', '.join(map(repr, unknown))}; its options are "
                         f"{', '.join(allowed) or 'none'}")
    return METHODS[name](**config)
