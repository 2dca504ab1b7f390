"""The inputs of a dataset run: where they come from, their ids, and how one is read.

A :class:`Source` lists its inputs as small *records* (``{"id", "target", "data"}``: plain values
that travel to Ray workers and into Arrow tables) and turns one record into the input to explain
with :meth:`Source.decode` (a tensor or a string), which may fail for that input alone (a corrupt
image): the run records the failure and goes on. Ids are strings, unique within a source; they
name the input in the results and derive its seed.

:func:`open_source` picks the source for what the user gave: a folder of images (``.png``,
``.jpg``, ... and ``.npy``; ids are paths relative to the folder), a ``.npy`` file (read
memory-mapped) or a NumPy / torch array (ids ``"0"``, ``"1"``, ... unless given), a Parquet or
CSV table (an id column; features in numeric columns, or one column of lists or of text), a
text file (one sentence a line; ids are line numbers from 1) or a list of sentences, or a Ray
Dataset with an id column.

Example:
    >>> source = open_source(torch.rand(3, 1, 28, 28))
    >>> [r["id"] for r in source.records()], source.decode({"id": "1", "target": None, "data": 1}).shape
    (['0', '1', '2'], torch.Size([1, 28, 28]))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError, require
from ..inputs import InputSpec, load_input

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".npy"})
Record = dict[str, Any]


class Source:
    """Inputs to explain: records (id, target, data) and how to read one.

    Attributes:
        description: what the inputs are, in words (for the manifest and the summary).
        kind: ``"tensor"`` (images, rows, any tensor) or ``"text"``.
    """

    description = "inputs"
    kind = "tensor"

    def records(self, skip: frozenset[str] | set[str] = frozenset()) -> Iterator[Record]:
        """Every record in order, but those whose id is in ``skip``."""
        raise NotImplementedError

    def decode(self, record: Record) -> torch.Tensor | str:
        """The input a record stands for; raises (for this input alone) if it cannot be read."""
        return record["data"]

    def ids(self) -> list[str]:
        """Every id, in order."""
        return [record["id"] for record in self.records()]

    def ray_dataset(self, skip: frozenset[str] | set[str]) -> Any:
        """The records not in ``skip`` as a Ray Dataset (rows of ``id``, ``target``, ``data``)."""
        ray_data = require("ray.data", "ray", "the Ray engine")
        return ray_data.from_items(list(self.records(skip)))


def check_unique(ids: Sequence[str], where: str) -> None:
    """Raise if an id occurs twice (results are keyed by id, so each must name one input)."""
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise InvalidInputError(f"the id {ident!r} occurs twice in {where}; every input needs its own id")
        seen.add(ident)


def _target(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


class ImageFolder(Source):
    """Every image (and ``.npy`` array) under a folder, recursively, sorted by path; ids are the
    paths relative to the folder (``"cats/001.jpg"``). Images are fitted to ``spec`` when given."""

    def __init__(self, folder: str | Path, spec: InputSpec | None = None, target: int | None = None):
        self.folder = Path(folder)
        self.spec = spec
        self.target = target
        self.files = sorted(
            p.relative_to(self.folder).as_posix()
            for p in self.folder.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not self.files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise InvalidInputError(f"the folder {self.folder} holds no images (files ending in {suffixes})")
        self.description = f"{len(self.files)} images in {self.folder.name}/"

    def records(self, skip=frozenset()) -> Iterator[Record]:
        return ({"id": f, "target": self.target, "data": f} for f in self.files if f not in skip)

    def decode(self, record: Record) -> torch.Tensor:
        x = load_input(self.folder / record["data"], self.spec)
        return self.spec.check(x) if self.spec is not None else x


class ArraySource(Source):
    """The rows of an array ``(N, ...)``: a NumPy array (memory-mapped for a ``.npy`` file) or a
    torch tensor; ids ``"0"``, ``"1"``, ... unless ``ids`` are given."""

    def __init__(self, array: Any, ids: Sequence[str] | None = None, target: int | None = None, name: str = "array"):
        if isinstance(array, torch.Tensor):
            array = array.detach().cpu().numpy()
        if not isinstance(array, np.ndarray) or array.ndim < 2 or array.dtype.kind not in "biuf":
            shape = getattr(array, "shape", None)
            raise InvalidInputError(
                f"an array of inputs must be numeric with a leading dimension of inputs, (N, ...); got {shape}"
            )
        self.array = array
        self.ids_ = [str(i) for i in range(len(array))] if ids is None else [str(i) for i in ids]
        if len(self.ids_) != len(array):
            raise InvalidInputError(f"{len(self.ids_)} ids were given for {len(array)} inputs; give one per input")
        check_unique(self.ids_, name)
        self.target = target
        self.description = f"{len(array)} inputs of shape {tuple(array.shape[1:])} from {name}"

    def records(self, skip=frozenset()) -> Iterator[Record]:
        return (
            {"id": ident, "target": self.target, "data": i} for i, ident in enumerate(self.ids_) if ident not in skip
        )

    def ids(self) -> list[str]:
        return list(self.ids_)

    def decode(self, record: Record) -> torch.Tensor:
        return torch.from_numpy(np.array(self.array[int(record["data"])], dtype=np.float32))


class TextSource(Source):
    """Sentences: a list of strings (ids ``"0"``, ``"1"``, ...) or a text file, one sentence a
    line (ids are line numbers from 1; blank lines are skipped)."""

    kind = "text"

    def __init__(self, texts: Sequence[str], ids: Sequence[str] | None = None, target: int | None = None, name="texts"):
        ids = [str(i) for i in range(len(texts))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(texts):
            raise InvalidInputError(f"{len(ids)} ids were given for {len(texts)} texts; give one per text")
        check_unique(ids, name)
        self.items = list(zip(ids, texts))
        self.target = target
        self.description = f"{len(self.items)} texts from {name}"

    @classmethod
    def from_file(cls, path: str | Path, target: int | None = None) -> TextSource:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        numbered = [(str(n), line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
        if not numbered:
            raise InvalidInputError(f"{path} holds no sentences (one per line)")
        return cls([t for _, t in numbered], [i for i, _ in numbered], target, name=Path(path).name)

    def records(self, skip=frozenset()) -> Iterator[Record]:
        return ({"id": i, "target": self.target, "data": t} for i, t in self.items if i not in skip)


class TableSource(Source):
    """The rows of a Parquet file (or folder of them) or a CSV file, with an id column.

    ``column`` names one column holding each input: text (explained as text) or a list of numbers
    (reshaped to ``shape`` when given); without it, the input is the row of ``features`` (default:
    every numeric column but the id and the target). ``target_column`` gives each row's class.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        id_column: str = "id",
        column: str | None = None,
        features: Sequence[str] | None = None,
        shape: Sequence[int] | None = None,
        target_column: str | None = None,
        target: int | None = None,
    ):
        self.path = Path(path)
        self.csv = self.path.suffix.lower() == ".csv"
        self.id_column, self.column, self.shape = id_column, column, None if shape is None else tuple(shape)
        self.target_column, self.target = target_column, target
        schema = self._schema()
        names = set(schema.names)
        for role, name in (("id", id_column), ("input", column), ("target", target_column)):
            if name is not None and name not in names:
                raise InvalidInputError(
                    f"the table {self.path.name} has no {role} column {name!r}; its columns are {sorted(names)}"
                )
        if column is None:
            pa = require("pyarrow", "dataset", "Parquet and CSV inputs")
            numeric = [
                f.name
                for f in schema
                if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
                and f.name not in (id_column, target_column)
            ]
            self.features = list(features) if features is not None else numeric
            if not self.features:
                raise InvalidInputError(f"the table {self.path.name} has no numeric feature columns; name column=")
            self.kind = "tensor"
        else:
            self.features = []
            self.kind = "text" if str(schema.field(column).type) in ("string", "large_string") else "tensor"
        self.description = f"rows of {self.path.name}"

    def _schema(self):
        if self.csv:
            return self._read_csv().schema
        parquet = require("pyarrow.parquet", "dataset", "Parquet inputs")
        return parquet.ParquetDataset(self.path).schema

    def _read_csv(self):
        csv = require("pyarrow.csv", "dataset", "CSV inputs")
        return csv.read_csv(self.path)

    def _batches(self) -> Iterator[Any]:
        if self.csv:
            yield from self._read_csv().to_batches()
            return
        dataset = require("pyarrow.dataset", "dataset", "Parquet inputs")
        yield from dataset.dataset(self.path, format="parquet").to_batches()

    def ids(self) -> list[str]:
        if self.csv:
            return [str(i) for i in self._read_csv().column(self.id_column).to_pylist()]
        dataset = require("pyarrow.dataset", "dataset", "Parquet inputs")
        table = dataset.dataset(self.path, format="parquet").to_table(columns=[self.id_column])
        return [str(i) for i in table.column(self.id_column).to_pylist()]

    def records(self, skip=frozenset()) -> Iterator[Record]:
        for batch in self._batches():
            yield from (r for r in self.to_records(batch.to_pylist()) if r["id"] not in skip)

    def to_records(self, rows: list[dict[str, Any]]) -> list[Record]:
        """Table rows (dicts of columns) as records."""
        out = []
        for row in rows:
            target = _target(row[self.target_column]) if self.target_column else self.target
            data = row[self.column] if self.column else [row[f] for f in self.features]
            out.append({"id": str(row[self.id_column]), "target": target, "data": data})
        return out

    def decode(self, record: Record) -> torch.Tensor | str:
        data = record["data"]
        if self.kind == "text":
            if not isinstance(data, str):
                raise InvalidInputError(f"the input of {record['id']!r} is {data!r}, not a text")
            return data
        if data is None or any(v is None for v in data):
            raise InvalidInputError(f"the input of {record['id']!r} has missing values; impute them first")
        x = torch.tensor(data, dtype=torch.float32)
        if self.shape is not None:
            if x.numel() != int(np.prod(self.shape)):
                raise InvalidInputError(f"the input of {record['id']!r} has {x.numel()} values, not shape {self.shape}")
            x = x.reshape(self.shape)
        return x

    def ray_dataset(self, skip):
        ray_data = require("ray.data", "ray", "the Ray engine")
        read = ray_data.read_csv if self.csv else ray_data.read_parquet
        return _filtered(read(str(self.path)).map_batches(self._ray_records, batch_format="pyarrow"), skip)

    def _ray_records(self, table):
        pa = require("pyarrow", "dataset", "Parquet inputs")
        return pa.Table.from_pylist(self.to_records(table.to_pylist()))


class RayDatasetSource(Source):
    """The rows of a Ray Dataset with an id column and one input column (``column``: text or a
    list of numbers, reshaped to ``shape`` when given)."""

    def __init__(self, dataset: Any, *, id_column: str = "id", column: str = "data", shape=None, target=None):
        names = set(dataset.columns())
        for role, name in (("id", id_column), ("input", column)):
            if name not in names:
                raise InvalidInputError(
                    f"the Ray Dataset has no {role} column {name!r}; its columns are {sorted(names)}"
                )
        self.dataset, self.id_column, self.column, self.target = dataset, id_column, column, target
        self.shape = None if shape is None else tuple(shape)
        self.kind = (
            "text" if str(dataset.schema().base_schema.field(column).type) in ("string", "large_string") else "tensor"
        )
        self.description = "a Ray Dataset"

    def _record(self, row: dict[str, Any]) -> Record:
        data = row[self.column]
        return {"id": str(row[self.id_column]), "target": self.target, "data": data}

    def ids(self) -> list[str]:
        return [str(row[self.id_column]) for row in self.dataset.select_columns([self.id_column]).iter_rows()]

    def records(self, skip=frozenset()) -> Iterator[Record]:
        return (r for r in map(self._record, self.dataset.iter_rows()) if r["id"] not in skip)

    def decode(self, record: Record) -> torch.Tensor | str:
        if self.kind == "text":
            return str(record["data"])
        x = torch.as_tensor(np.asarray(record["data"], dtype=np.float32))
        return x.reshape(self.shape) if self.shape is not None else x

    def ray_dataset(self, skip):
        pa = require("pyarrow", "dataset", "Ray Datasets")

        def to_records(table):
            return pa.Table.from_pylist([self._record(row) for row in table.to_pylist()])

        return _filtered(self.dataset.map_batches(to_records, batch_format="pyarrow"), skip)


def _filtered(dataset: Any, skip: frozenset[str] | set[str]) -> Any:
    """``dataset`` without the rows whose id is in ``skip``."""
    if not skip:
        return dataset
    done = frozenset(skip)
    return dataset.filter(lambda row: row["id"] not in done)


def open_source(
    inputs: Any,
    *,
    spec: InputSpec | None = None,
    ids: Sequence[str] | None = None,
    id_column: str = "id",
    column: str | None = None,
    features: Sequence[str] | None = None,
    shape: Sequence[int] | None = None,
    target: int | None = None,
    target_column: str | None = None,
) -> Source:
    """The :class:`Source` for ``inputs`` (see the module's docstring for what is taken).

    Example:
        >>> open_source(["a good film", "a bad film"]).description
        '2 texts from texts'
    """
    if isinstance(inputs, Source):
        return inputs
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        return ArraySource(inputs, ids, target)
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(t, str) for t in inputs):
        return TextSource(inputs, ids, target)
    if type(inputs).__module__.startswith("ray.data"):
        return RayDatasetSource(inputs, id_column=id_column, column=column or "data", shape=shape, target=target)
    if not isinstance(inputs, (str, Path)):
        raise InvalidInputError(
            f"cannot explain a {type(inputs).__name__} as a dataset: give a folder of images, a .npy, .parquet, "
            ".csv or .txt file, an array, a list of sentences or a Ray Dataset"
        )
    path = Path(inputs)
    if not path.exists():
        raise InvalidInputError(f"no inputs at {path}: give a folder of images or a .npy, .parquet, .csv or .txt file")
    suffix = path.suffix.lower()
    table = suffix in (".parquet", ".csv") or (path.is_dir() and any(path.glob("*.parquet")))
    if table:
        return TableSource(
            path, id_column=id_column, column=column, features=features, shape=shape,
            target_column=target_column, target=target,
        )  # fmt: skip
    if path.is_dir():
        return ImageFolder(path, spec, target)
    if suffix == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as err:
            raise InvalidInputError(f"cannot read {path} as a numeric .npy array: {err}") from None
        return ArraySource(array, ids, target, name=path.name)
    if suffix == ".txt":
        return TextSource.from_file(path, target)
    raise InvalidInputError(
        f"{path.name} is not an input evoxplain reads as a dataset: give a folder of images or a .npy, "
        ".parquet, .csv or .txt file"
    )
