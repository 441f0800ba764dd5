"""Model side of isegsat: RITM HRNet models, checkpoints, devices and the click predictor."""

from isegsat.inference.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from isegsat.inference.clicks import Click, clicks_to_points, next_click
from isegsat.inference.device import pick_device
from isegsat.inference.fuse import fuse_for_inference
from isegsat.inference.model import ARCHITECTURES, HRNetModel, build_model
from isegsat.inference.predictor import Predictor
from isegsat.inference.zoom_in import ZoomIn

__all__ = [
    "ARCHITECTURES",
    "CheckpointError",
    "Click",
    "HRNetModel",
    "Predictor",
    "ZoomIn",
    "build_model",
    "clicks_to_points",
    "fuse_for_inference",
    "load_checkpoint",
    "load_model",
    "next_click",
    "pick_device",
    "save_checkpoint",
]
