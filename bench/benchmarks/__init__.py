"""The benchmarks, one module per pair, each with a run() that prints its RATIO lines."""
