"""Developer tools of the app, not part of the installed wheel: the viewer benchmark (``bench``),
the headless main-window driver and README screenshot (``screenshot``) and the pre-labeller
benchmark (``prelabel_bench``). From a source checkout: ``python -m isegsat.app.tools.NAME``."""
