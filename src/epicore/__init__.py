"""Fangkong's analytics engine: pure Python, NumPy, Arrow, DuckDB and Spark.

Nothing in this package imports Django or the platform (checked by import-linter in the tests),
so the same code runs in a test, in a command on a laptop and on a Spark cluster.
"""
