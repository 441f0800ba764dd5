"""Procedural aerial scenes with exact building masks (0.3 m/pixel), an Inria-layout writer and
a bundled sample scene. See ``generate_scene``, ``write_inria_layout``, ``ensure_sample_scene``."""

from .layout import CITY_CRS, CITY_STYLES, INRIA_CITIES, write_inria_layout
from .sample import SampleScene, ensure_sample_scene, sample_scene_paths
from .scene import STYLES, SyntheticScene, generate_scene

__all__ = [
    "CITY_CRS",
    "CITY_STYLES",
    "INRIA_CITIES",
    "STYLES",
    "SampleScene",
    "SyntheticScene",
    "ensure_sample_scene",
    "generate_scene",
    "sample_scene_paths",
    "write_inria_layout",
]
