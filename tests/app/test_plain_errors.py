"""Plain-words explanations of bad checkpoints and damaged rasters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fakes.rasters import buildings_mask
from fakes.scenes import write_scene_raster

from isegsat.app.document import open_document
from isegsat.app.geo import RasterError
from isegsat.app.plain_errors import explain_checkpoint_failure, explain_raster_failure
from isegsat.inference import CheckpointError, load_model


def failure(path: Path) -> CheckpointError:
    with pytest.raises(CheckpointError) as caught:
        load_model(path, "cpu")
    return caught.value


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"model weights: see the wiki\n", "is a text file, not a model checkpoint"),
        (b"PK\x03\x04" + b"\x00" * 64, "is incomplete or damaged"),
        (bytes(range(256)) * 4, "is not a model checkpoint isegsat can read"),
    ],
)
def test_an_unreadable_checkpoint_is_described_without_torch_advice(
    tmp_path: Path, content: bytes, expected: str
):
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    error = failure(path)
    text = explain_checkpoint_failure("notes.pth", path, error)
    assert text.startswith("notes.pth ") and expected in text
    assert "weights_only" not in text and "\x1b" not in text and str(tmp_path) not in text


def test_a_readable_file_of_the_wrong_kind_keeps_the_loaders_reason(tmp_path: Path):
    path = tmp_path / "bare.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    text = explain_checkpoint_failure("bare.pth", path, failure(path))
    assert text.startswith("bare.pth: not a checkpoint") and "bare state dict" in text


@pytest.mark.parametrize("fraction", [0.5, 0.05])
def test_a_truncated_geotiff_is_refused_at_open_and_called_incomplete(
    tmp_path: Path, fraction: float
):
    good = write_scene_raster(tmp_path / "good.tif", buildings_mask(256, 256))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: int(good.stat().st_size * fraction)])
    with pytest.raises(RasterError) as caught:
        open_document(cut)  # half a file opens in GDAL; its last pixels do not read
    text = explain_raster_failure(cut, str(caught.value))
    assert text.startswith("cut.tif is incomplete or damaged") and "Copy it again" in text
    assert not (tmp_path / "cut_labels.tif").exists()


def test_other_raster_errors_are_left_as_they_are(tmp_path: Path):
    text = "raster not found: /nowhere/x.tif"
    assert explain_raster_failure(Path("/nowhere/x.tif"), text) == text
