"""`evoxplain data download`: files fetched from a local HTTP server on 127.0.0.1 (no other network),
checked against their checksums, built into subsets by their rules, and nothing kept when a file is
corrupt."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evoxplain_zoo.data import load_fer2013, load_imdb, load_mnist
from evoxplain_zoo.data.catalog import DATASETS, DataFile, Dataset, Source, download, verify_folder
from evoxplain_zoo.data.download import ChecksumError, DownloadError, content_digest
from evoxplain_zoo.data.subsets import build_fer_subset, build_imdb_subset, fer_rule
from PIL import Image
from typer.testing import CliRunner

from evoxplain.cli import app


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (the MNIST format) of uint8 ``array``."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def sha(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def tiny_mnist(www: Path, url: str) -> Dataset:
    """Four IDX files of 5 images each, served under www/, and their dataset entry."""
    rng = np.random.default_rng(0)
    contents = {}
    for split in ("train", "t10k"):
        contents[f"{split}-images-idx3-ubyte.gz"] = idx_bytes(rng.integers(0, 256, (5, 28, 28)))
        contents[f"{split}-labels-idx1-ubyte.gz"] = idx_bytes(np.arange(5))
    files = []
    for name, content in contents.items():
        (www / name).write_bytes(gzip.compress(content))
        files.append(DataFile(name, sha(content), f"{url}/{name}"))
    return Dataset("mnist", "five digits", "made by the test", tuple(files))


def leftovers(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def test_download_checks_and_caches_the_files_and_the_loader_reads_them(server, tmp_path, monkeypatch):
    www, url = server
    entry = tiny_mnist(www, url)
    cache = tmp_path / "cache"
    paths = download(entry, cache, progress=False)
    assert [p.name for p in paths] == [f.name for f in entry.files]
    assert all(content_digest(p) == f.digest for p, f in zip(paths, entry.files))
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)
    monkeypatch.setenv("EVOXPLAIN_CACHE", str(cache))
    x, y = load_mnist("test")  # found in the cache, nothing else configured
    assert x.shape == (5, 1, 28, 28) and y.tolist() == [0, 1, 2, 3, 4]
    (www / entry.files[0].name).unlink()  # cached: a second call fetches nothing
    assert download(entry, cache, progress=False) == paths
    assert sorted(verify_folder("adult", cache / "mnist").values()) == [False, False]


def test_a_corrupt_download_is_a_checksum_error_and_nothing_is_cached(server, tmp_path):
    www, url = server
    entry = tiny_mnist(www, url)
    last = entry.files[-1].name
    (www / last).write_bytes(gzip.compress(b"not the labels"))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=f"{last} does not match its checksum"):
        download(entry, cache, progress=False)
    assert leftovers(cache) == []  # not even the three good files, nor a partial folder
    (www / last).write_bytes(b"\x1f\x8b truncated gzip")
    with pytest.raises(ChecksumError, match="cannot be read"):
        download(entry, cache, progress=False)
    assert leftovers(cache) == []


def test_a_missing_file_is_a_download_error_naming_the_url(server, tmp_path):
    www, url = server
    entry = tiny_mnist(www, url)
    (www / entry.files[1].name).unlink()
    with pytest.raises(DownloadError, match=f"{url}/{entry.files[1].name} answered HTTP 404"):
        download(entry, tmp_path / "cache", progress=False)
    assert leftovers(tmp_path / "cache") == []


def test_plain_originals_are_gzipped_into_the_cache(server, tmp_path):
    www, url = server
    text = b"39, State-gov, 77516\n"
    (www / "adult.data").write_bytes(text)
    entry = Dataset("adult", "one row", "test", (DataFile("adult.data.gz", sha(text), f"{url}/adult.data", True),))
    (path,) = download(entry, tmp_path / "cache", progress=False)
    assert path.name == "adult.data.gz" and gzip.decompress(path.read_bytes()) == text


def review_archive(path: Path, per_folder: int) -> None:
    """An aclImdb-like tar.gz: train/test × neg/pos, ids 0..per_folder-1, rating from the id."""
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for polarity in ("neg", "pos"):
                for i in range(per_folder):
                    rating = (i % 4) + (7 if polarity == "pos" else 1)
                    data = f"{split} {polarity} review {i}<br />é".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{polarity}/{i}_{rating}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


def test_the_imdb_subset_is_built_by_its_rule_from_the_served_archive(server, tmp_path, monkeypatch):
    www, url = server
    review_archive(www / "aclImdb_v1.tar.gz", per_folder=12)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    expected = build_imdb_subset(www / "aclImdb_v1.tar.gz", scratch, n=4)
    files = tuple(DataFile(p.name, content_digest(p)) for p in expected)
    checksum = "md5:" + hashlib.md5((www / "aclImdb_v1.tar.gz").read_bytes()).hexdigest()
    source = Source(f"{url}/aclImdb_v1.tar.gz", checksum, "aclImdb_v1.tar.gz")
    entry = Dataset("imdb", "tiny", "test", files, source, lambda a, f: build_imdb_subset(a, f, n=4))
    cache = tmp_path / "cache"
    download(entry, cache, progress=False)
    assert leftovers(cache) == ["imdb", "imdb/imdb_test_5k.csv.gz", "imdb/imdb_train_5k.csv.gz"]  # no archive left
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)
    monkeypatch.setenv("EVOXPLAIN_CACHE", str(cache))
    df = load_imdb("train")
    assert len(df) == 8 and df["label"].sum() == 4
    picked = pd.DataFrame({"id": range(12)}).sample(n=4, random_state=0)["id"]  # the rule on ids 0..11
    assert set(df[df["label"] == 0]["id"]) == set(picked) == set(df[df["label"] == 1]["id"])
    assert df["text"].iloc[0].endswith("\né")  # <br /> became a line break; UTF-8 kept


def test_a_source_archive_with_the_wrong_checksum_builds_nothing(server, tmp_path):
    www, url = server
    review_archive(www / "aclImdb_v1.tar.gz", per_folder=4)
    source = Source(f"{url}/aclImdb_v1.tar.gz", "md5:" + "0" * 32, "aclImdb_v1.tar.gz")
    entry = Dataset("imdb", "tiny", "test", (DataFile("imdb_train_5k.csv.gz", "sha256:0"),), source, build_imdb_subset)
    with pytest.raises(ChecksumError, match="aclImdb_v1.tar.gz does not match"):
        download(entry, tmp_path / "cache", progress=False)
    assert leftovers(tmp_path / "cache") == []


def face_archive(path: Path, per_class: int) -> None:
    """A zip of FER-like image folders: a repository folder, train/ and test/, one folder per class."""
    from evoxplain_zoo.data import FER2013_CLASSES

    with zipfile.ZipFile(path, "w") as archive:
        for split, prefix in (("train", "Training"), ("test", "PublicTest")):
            for k, label in enumerate(FER2013_CLASSES):
                for i in range(per_class):
                    buffer = io.BytesIO()
                    Image.new("L", (48, 48), color=10 * k + i).save(buffer, format="PNG")
                    archive.writestr(f"repo-abc/{split}/{label}/{prefix}_{100 + i}.jpg", buffer.getvalue())


def test_the_fer_subset_is_built_by_its_rule(server, tmp_path, monkeypatch):
    www, url = server
    face_archive(www / "faces.zip", per_class=5)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (built,) = build_fer_subset(www / "faces.zip", scratch, caps={"train": 3, "test": 2})
    source = Source(f"{url}/faces.zip", None, "faces.zip")
    build = functools.partial(build_fer_subset, caps={"train": 3, "test": 2})
    entry = Dataset("fer2013", "tiny", "test", (DataFile(built.name, content_digest(built)),), source, build)
    download(entry, tmp_path / "cache", progress=False)
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)
    monkeypatch.setenv("EVOXPLAIN_CACHE", str(tmp_path / "cache"))
    x, y, names = load_fer2013("train")
    assert x.shape == (21, 1, 48, 48) and np.bincount(y.numpy()).tolist() == [3] * 7
    kept = fer_rule([f"Training_{100 + i}.jpg" for i in range(5)], 3)
    assert [round(float(v) * 255) for v in x[:3, 0, 0, 0]] == [int(name[9:12]) - 100 for name in kept]


def test_the_cli_downloads_from_a_mirror_and_lists_the_files(server, tmp_path, monkeypatch):
    www, url = server
    entry = tiny_mnist(www, "unused")
    (www / "mnist").mkdir()
    for file in entry.files:  # the mirror's layout: <name>/<file>
        (www / file.name).rename(www / "mnist" / file.name)
    monkeypatch.setitem(DATASETS, "mnist", entry)
    result = CliRunner().invoke(app, ["data", "download", "mnist", "--cache", str(tmp_path / "c"), "--mirror", url])
    assert result.exit_code == 0, result.output
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == [
        str(tmp_path / "c" / "mnist" / f.name) for f in entry.files
    ]
    result = CliRunner().invoke(app, ["data", "download", "no-such-data"])
    assert result.exit_code == 2 and "unknown dataset 'no-such-data'; the datasets are: adult" in result.output


def test_the_shared_data_folder_is_a_mirror_that_verifies(server, tmp_path, data_root):
    """The catalog's checksums are those of the real data: served as a mirror, every dataset verifies."""
    www, url = server
    www.rmdir()
    www.symlink_to(data_root)
    for name in ("mnist", "adult", "imdb", "fer2013"):
        download(name, tmp_path / "cache", mirror=url, progress=False)
        assert all(verify_folder(name, tmp_path / "cache" / name).values())
    assert all(verify_folder("imagenet_samples", data_root / "imagenet_samples").values())


def test_the_imdb_rule_reproduces_the_shared_subset(data_root):
    """The shared IMDB subset is what the documented rule picks from ids 0..12499 of each folder
    (every folder of the original numbers its reviews 0..12499), in the documented order."""
    picked = pd.DataFrame({"id": range(12500)}).sample(n=2500, random_state=0)["id"].tolist()
    ruled = pd.DataFrame({"id": picked * 2, "label": [0] * 2500 + [1] * 2500}).sample(frac=1, random_state=0)
    for split in ("train", "test"):
        df = load_imdb(split, data_root)
        assert df["id"].tolist() == ruled["id"].tolist() and df["label"].tolist() == ruled["label"].tolist()
