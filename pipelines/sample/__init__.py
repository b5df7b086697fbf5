"""Synthetic inputs for opvalue: the bundled sample in data/sample and benchmark-scale data.

`python -m pipelines.sample.generate --out DIR` writes a registry, monthly work-item and
usage files with realistic faults, and `DIR/expected/`, the truth the pipeline's results are
checked against. `catalogue` holds the workflow stories, `population` the item model and the
exact injection of true effects, `items`, `usage` and `faults` the draws, `formats` the text
the contract allows, and `truth` the expected and realised results.
"""
