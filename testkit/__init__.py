"""What the tests, the benchmarks and the scripts share: users and worlds, synthetic data,
planted detection scenarios, the browser harness and a test identity provider.

``tests/``, ``bench/`` and ``scripts/`` import this package, never each other (issue #19).
Nothing in the product imports it.
"""
