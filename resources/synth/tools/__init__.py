"""Developer tools of the scene generator, not part of the installed wheel: its timing
(``python -m isegsat.resources.synth.tools.bench`` from a source checkout)."""
