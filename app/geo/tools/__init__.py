"""Developer tools of the geodata layer, not part of the installed wheel: the geodata benchmark
(``python -m isegsat.app.geo.tools.bench`` from a source checkout). Qt-free like the rest of
``isegsat.app.geo``."""
