"""Developer tools of training, not part of the installed wheel: the scene-adaptation benchmark
(``python -m isegsat.training.tools.adapt_bench`` from a source checkout)."""
