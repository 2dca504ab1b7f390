"""These tests import the evoxplain-zoo distribution: without it they are not collected, and
``tests/test_layers.py::test_the_zoo_is_installed`` says so (a skip, or a failure in CI)."""

import importlib.util

if importlib.util.find_spec("evoxplain_zoo") is None:
    collect_ignore_glob = ["test_*.py"]
