"""Dataset loaders: MNIST, Fashion-MNIST, the ImageNet sample images, UCI Adult, FER2013 and IMDB subsets.

Every loader takes ``root=`` (a data folder); without it, it reads the environment variable
``EVOXPLAIN_DATA`` (a folder containing ``mnist/``, ``imagenet_samples/``, ...), and for
Fashion-MNIST also Debian's ``/usr/share/datasets/fashion-mnist/``. Nothing is downloaded.

Example:
    >>> from evoxplain_zoo.data import load_mnist, load_imagenet_samples
    >>> x, y = load_mnist("test")         # $EVOXPLAIN_DATA/mnist/t10k-images-idx3-ubyte.gz
    >>> samples = load_imagenet_samples(size=224)
    >>> x.shape, samples.images.shape
    (torch.Size([10000, 1, 28, 28]), torch.Size([125, 3, 224, 224]))
"""

from ._paths import ENV_VAR, DatasetFormatError, DatasetNotFoundError
from .adult import (
    ADULT_CATEGORICAL,
    ADULT_CLASSES,
    ADULT_FEATURES,
    ADULT_NUMERIC,
    ADULT_TARGET,
    load_adult,
)
from .fer import FER2013_CLASSES, load_fer2013
from .idx import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_CLASSES,
    MNIST_MEAN,
    MNIST_STD,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from .imagenet import (
    ImageNetSamples,
    load_imagenet_class_index,
    load_imagenet_samples,
    preprocess_image,
)
from .imdb import (
    IMDB_CLASSES,
    clean_review,
    detokenize,
    load_imdb,
    split_sentences,
    tokenize,
)

__all__ = [
    "ADULT_CATEGORICAL",
    "ADULT_CLASSES",
    "ADULT_FEATURES",
    "ADULT_NUMERIC",
    "ADULT_TARGET",
    "load_adult",
    "FER2013_CLASSES",
    "load_fer2013",
    "ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "MNIST_CLASSES",
    "MNIST_MEAN",
    "MNIST_STD",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "IMDB_CLASSES",
    "ImageNetSamples",
    "clean_review",
    "detokenize",
    "load_imdb",
    "split_sentences",
    "tokenize",
    "load_fashion_mnist",
    "load_imagenet_class_index",
    "load_imagenet_samples",
    "load_mnist",
    "preprocess_image",
    "read_idx",
]
