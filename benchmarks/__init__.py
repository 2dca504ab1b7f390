"""The benchmarks of evoxplain: ``python -m benchmarks.<name> --help`` (see ``benchmarks/README.md``)."""
