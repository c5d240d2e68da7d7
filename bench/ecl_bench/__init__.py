"""elasticache-local benchmark suite: engines vs the real servers, control plane, scale.

Entry point: ``bench/run.sh`` (which runs ``bench/suite.py``). Every process the suite starts
is registered in :mod:`ecl_bench.procs` and killed, with its process group, on any exit.
"""
