"""Developer tools of the inference core, not part of the installed wheel: the click latency
benchmark (``python -m isegsat.inference.tools.bench`` from a source checkout)."""
