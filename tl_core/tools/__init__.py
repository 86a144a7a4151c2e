"""Developer tools, not part of the product: the benchmark and the load test."""
