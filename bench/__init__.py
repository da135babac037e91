"""Load and speed measurements (not tests): synthetic corpora, the load driver, the benchmark run."""
