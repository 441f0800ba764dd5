"""isegsat-prepare on real-data set folders: GeoTIFF/PNG/JPEG pairs, resampling, mask checks,
validation split, crops covering odd sizes."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from fakes.rasters import UTM_CRS, WGS84_CRS, write_raster
from rasterio.transform import from_origin

from isegsat.training.ground_resolution import ground_resolution
from isegsat.training.prepare import (
    PrepareError,
    crop_starts,
    main,
    prepare,
    set_folder_pairs,
)


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _scene(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 ground with bright roofs and the (H, W) uint8 0/255 roof mask."""
    rng = np.random.default_rng(seed)
    image = rng.normal(90, 10, (height, width, 3)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(4):
        h, w = rng.integers(8, 20, size=2)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        image[y : y + h, x : x + w] = rng.integers(170, 230)
        mask[y : y + h, x : x + w] = 255
    return image, mask


def _png_set(root: Path, count: int, size: int = 64, image_suffix: str = ".png") -> Path:
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for n in range(count):
        image, mask = _scene(size, size, n)
        cv2.imwrite(str(root / "images" / f"chip_{n}{image_suffix}"), image[..., ::-1])
        cv2.imwrite(str(root / "gt" / f"chip_{n}.png"), mask)
    return root


def test_png_and_jpeg_pairs_with_a_disjoint_validation_split(tmp_path: Path) -> None:
    root = _png_set(tmp_path / "chips", 10, image_suffix=".jpg")
    pairs = set_folder_pairs(root, "chips", val_every=5)
    assert [p.split for p in pairs].count("val") == 2
    assert {p.tile for p in pairs if p.split == "val"} == {"chip_4", "chip_9"}  # 5th, 10th
    out = tmp_path / "out"
    assert main(["--folder", str(root), "--out", str(out), "--crop", "48", "--workers", "1"]) == 0
    rows = _rows(out)
    assert {r["city"] for r in rows} == {"chips"}
    train = {r["tile"] for r in rows if r["split"] == "train"}
    val = {r["tile"] for r in rows if r["split"] == "val"}
    assert train and val and not train & val and len(train | val) == 10
    # 64 px chips, 48 px crops: two windows per axis at 0 and 16 (overlapping), none dropped.
    assert len(rows) == 10 * 4
    mask = cv2.imread(str(out / rows[0]["mask"]), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (48, 48) and set(np.unique(mask)) <= {0, 255}


def test_named_validation_images_and_a_mask_of_zeros_and_ones(tmp_path: Path) -> None:
    root = _png_set(tmp_path / "chips", 3)
    mask = cv2.imread(str(root / "gt" / "chip_1.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(root / "gt" / "chip_1.png"), (mask > 0).astype(np.uint8))
    pairs = set_folder_pairs(root, val_every=0, val_names=["chip_1"])
    assert [(p.name, p.split) for p in pairs] == [
        ("chips_chip_0", "train"),
        ("chips_chip_1", "val"),
        ("chips_chip_2", "train"),
    ]
    prepare(pairs, tmp_path / "out", crop=64)
    written = cv2.imread(str(tmp_path / "out" / "masks" / "chips_chip_1_r0_c0.png"), 0)
    assert set(np.unique(written)) == {0, 255} and (written > 0).sum() == (mask > 0).sum()
    with pytest.raises(PrepareError, match="chip_7"):
        set_folder_pairs(root, val_names=["chip_7"])


def test_an_rgb_mask_is_refused_with_a_clear_message(tmp_path: Path, capsys) -> None:
    root = _png_set(tmp_path / "chips", 2)
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[10:30, 10:30] = (60, 16, 152)  # a class colour of a multi-class mask
    cv2.imwrite(str(root / "gt" / "chip_1.png"), colour)
    out = tmp_path / "out"
    assert main(["--folder", str(root), "--out", str(out), "--workers", "1"]) == 2
    error = capsys.readouterr().err
    assert "chip_1.png" in error and "RGB" in error and "single-band" in error
    assert not (out / "manifest.csv").exists()


def test_mask_values_other_than_building_and_background_are_refused(tmp_path: Path) -> None:
    root = _png_set(tmp_path / "chips", 1)
    classes = np.zeros((64, 64), np.uint8)
    classes[:10] = 3
    cv2.imwrite(str(root / "gt" / "chip_0.png"), classes)
    with pytest.raises(PrepareError, match="0/255 or 0/1, found 0, 3"):
        prepare(set_folder_pairs(root), tmp_path / "out", crop=64)


def test_geotiff_pairs_are_resampled_to_the_ground_resolution(tmp_path: Path) -> None:
    root = tmp_path / "ortho"
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    image, mask = _scene(120, 160, 3)
    transform = from_origin(448_000.0, 5_412_000.0, 0.15, 0.15)  # 0.15 m UTM pixels
    write_raster(root / "images" / "a.tif", np.moveaxis(image, -1, 0), UTM_CRS, transform)
    write_raster(root / "gt" / "a.tif", mask, UTM_CRS, transform)
    with rasterio.open(root / "images" / "a.tif") as src:
        assert ground_resolution(src) == pytest.approx(0.15, rel=1e-3)
    out = tmp_path / "out"
    argv = ["--folder", str(root), "--out", str(out), "--gsd", "0.3", "--crop", "200"]
    assert main([*argv, "--val-every", "0", "--workers", "1"]) == 0
    (row,) = _rows(out)
    crop = cv2.imread(str(out / row["image"]))
    crop_mask = cv2.imread(str(out / row["mask"]), cv2.IMREAD_GRAYSCALE)
    assert crop.shape == (60, 80, 3) and crop_mask.shape == (60, 80)  # halved: 0.3 m pixels
    assert (crop_mask > 0).sum() == pytest.approx((mask > 0).sum() / 4, rel=0.25)
    roof = crop_mask > 0
    assert crop[roof].mean() > crop[~roof].mean() + 50  # the mask still sits on the roofs


def test_degree_grids_are_measured_on_the_ground(tmp_path: Path) -> None:
    path = write_raster(
        tmp_path / "rio.tif",
        np.zeros((3, 32, 32), np.uint8),
        WGS84_CRS,
        from_origin(-43.2, -22.9, 4.5e-6, 4.5e-6),
    )
    with rasterio.open(path) as src:
        # 4.5e-6° is 0.50 m north-south and 0.46 m east-west at 22.9°S.
        assert ground_resolution(src) == pytest.approx(0.48, abs=0.01)


def test_images_without_georeferencing_keep_their_pixels_unless_scaled(tmp_path: Path) -> None:
    root = _png_set(tmp_path / "chips", 1, size=64)
    kept = prepare(set_folder_pairs(root, val_every=0), tmp_path / "kept", crop=500, gsd=0.3)
    scaled = prepare(set_folder_pairs(root, val_every=0), tmp_path / "big", crop=500, scale=2.0)
    assert kept.crops == scaled.crops == 1
    assert cv2.imread(str(tmp_path / "kept" / "images" / "chips_chip_0_r0_c0.png")).shape[:2] == (
        64,
        64,
    )
    big = cv2.imread(str(tmp_path / "big" / "masks" / "chips_chip_0_r0_c0.png"), 0)
    small = cv2.imread(str(tmp_path / "kept" / "masks" / "chips_chip_0_r0_c0.png"), 0)
    assert big.shape == (128, 128) and (big > 0).sum() == 4 * (small > 0).sum()


def test_grey_images_become_rgb(tmp_path: Path) -> None:
    root = _png_set(tmp_path / "pan", 1)
    image = cv2.imread(str(root / "images" / "chip_0.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(root / "images" / "chip_0.png"), image)
    prepare(set_folder_pairs(root, val_every=0), tmp_path / "out", crop=64)
    crop = cv2.imread(str(tmp_path / "out" / "images" / "pan_chip_0_r0_c0.png"))
    assert crop.shape == (64, 64, 3) and (crop[..., 0] == crop[..., 2]).all()


@pytest.mark.parametrize(
    ("length", "crop", "starts"),
    [
        (5000, 500, list(range(0, 5000, 500))),
        (64, 48, [0, 16]),
        (40, 48, [0]),
        (130, 50, [0, 40, 80]),
    ],
)
def test_crop_windows_cover_the_image(length: int, crop: int, starts: list[int]) -> None:
    assert crop_starts(length, crop) == starts
