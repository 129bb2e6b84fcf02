"""Few-shot methods behind one interface (see ``base.py``), by name."""

from fsl_course.methods.base import FewShotMethod
from fsl_course.methods.pixel import PixelNN
from fsl_course.methods.protonet import ProtoNet

METHODS: dict[str, type[FewShotMethod]] = {ProtoNet.name: ProtoNet, PixelNN.name: PixelNN}


def build_method(name: str, **config) -> FewShotMethod:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name](**config)
