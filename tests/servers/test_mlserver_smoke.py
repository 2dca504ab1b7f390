import torch

from evoxplain import GEEX, BlackBox


def test_smoke(mlserver):
    bb = BlackBox(f"{mlserver.url}/v2/models/lenet")
    print(bb, bb.model, bb.model.metadata)
    x = torch.rand(5, 1, 28, 28)
    print(bb(x))
    f = BlackBox(f"{mlserver.url}/v2/models/forest")
    print(f(torch.rand(3, 4).double()))
    k = BlackBox(f"{mlserver.url}/v2/models/keywords")
    print(k(["good film", "bad bad"]))
    print(bb.usage, mlserver.requests())


def test_smoke_kserve(kserve):
    from evoxplain.endpoints import InferenceEndpoint

    bb = BlackBox(InferenceEndpoint(f"{kserve.url}/v2/models/lenet", binary=True))
    print(bb, bb.model, bb.model.metadata)
    x = torch.rand(5, 1, 28, 28)
    print(bb(x))
    bb2 = BlackBox(f"{kserve.url}/v2/models/lenet")
    print(bb2(x) - bb(x), bb.usage, bb2.usage, bb2.model.binary)
