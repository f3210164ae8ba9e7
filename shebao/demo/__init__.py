"""Demo data: realistic people of 慈溪 for `make run`, the browser tests and the benchmark.

``shebao demo --scale small|full [--seed N] [--reset]``; the steps each subsystem adds are in
``shebao.demo.steps``; ``shebao.demo.runner`` loads, recognises and resets them.
"""
