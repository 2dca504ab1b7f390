"""evoxplain-zoo: the models, data and scenarios of the two papers evoxplain implements.

A layer above the library, as ``sklearn.datasets`` or torchvision's models are: the built-in
models a user can load by name (:mod:`evoxplain_zoo.models`), the dataset loaders
(:mod:`evoxplain_zoo.data`), the exemplar scenarios (:mod:`evoxplain_zoo.scenarios`) and the code
that trained the shipped weights. It registers itself with evoxplain through the entry point
``evoxplain.plugins`` (:mod:`evoxplain_zoo.plugin`); evoxplain never imports it.

Example:
    >>> from evoxplain_zoo.models import load_model
    >>> model, classes, spec = load_model("lenet-mnist")
    >>> classes[:3], spec.shape
    (['0', '1', '2'], (1, 28, 28))
"""

__version__ = "0.1.0"
