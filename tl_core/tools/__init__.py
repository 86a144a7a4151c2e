"""Developer tools, not part of the product: the benchmark, the load tests and the table of
what each default did (choices)."""
