"""Synthetic scene generator, Inria layout writer, sample scene and CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import rasterio

from isegsat.resources.synth import (
    CITY_CRS,
    INRIA_CITIES,
    ensure_sample_scene,
    generate_scene,
    sample_scene_paths,
    write_inria_layout,
)
from isegsat.resources.synth.cli import main as synth_main
from isegsat.resources.synth.preview import write_preview
from isegsat.resources.synth.sample import build_sample, degrade_label


def test_same_seed_same_scene_and_other_seed_differs():
    first = generate_scene(128, 160, seed=3, style="suburban")
    again = generate_scene(128, 160, seed=3, style="suburban")
    other = generate_scene(128, 160, seed=4, style="suburban")
    assert first.image.shape == (128, 160, 3) and first.image.dtype == np.uint8
    assert first.mask.shape == (128, 160) and first.mask.dtype == np.uint8
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.mask, again.mask)
    assert not np.array_equal(first.image, other.image)


@pytest.mark.parametrize("style", ["urban", "suburban"])
def test_mask_is_binary_and_has_buildings(style):
    scene = generate_scene(256, 256, seed=1, style=style)
    assert set(np.unique(scene.mask)) <= {0, 1}
    assert scene.mask.sum() > 0.02 * scene.mask.size


def test_building_fraction_orders_urban_over_suburban_over_rural():
    def fraction(style: str) -> float:
        return float(np.mean([generate_scene(384, 384, s, style).mask.mean() for s in range(3)]))

    urban, suburban, rural = fraction("urban"), fraction("suburban"), fraction("rural")
    assert urban > suburban > rural
    assert 0.15 < urban < 0.6 and 0.04 < suburban < 0.35 and rural < 0.08


def _edge_strength(grey: np.ndarray, mask: np.ndarray) -> float:
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
    return float(gradient[edge].mean())


def test_mask_edges_coincide_with_image_edges():
    scene = generate_scene(256, 256, seed=5, style="urban")
    grey = cv2.cvtColor(scene.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    aligned = _edge_strength(grey, scene.mask)
    misaligned = _edge_strength(grey, np.roll(scene.mask, (9, 13), axis=(0, 1)))
    assert aligned > 1.4 * misaligned
    # Pixel pairs 3 px apart that straddle the mask edge differ more than pairs on one side.
    colour = scene.image.astype(np.float32)
    across, same = [], []
    for shift in ((3, 0), (-3, 0), (0, 3), (0, -3)):
        other = np.roll(colour, shift, axis=(0, 1))
        other_mask = np.roll(scene.mask, shift, axis=(0, 1))
        difference = np.abs(colour - other).sum(axis=2)
        across.append(difference[scene.mask != other_mask])
        same.append(difference[scene.mask == other_mask])
    assert np.concatenate(across).mean() > 2.0 * np.concatenate(same).mean()


@pytest.mark.parametrize(("style", "seed"), [("suburban", 1), ("suburban", 4), ("urban", 0)])
def test_shadows_fall_along_the_scene_shadow_direction(style, seed):
    scene = generate_scene(384, 384, seed=seed, style=style)
    grey = cv2.cvtColor(scene.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    direction = np.array(scene.shadow_direction)
    assert abs(np.linalg.norm(direction) - 1) < 1e-6

    def ground_beside(sign: int) -> float:
        dx, dy = np.round(sign * direction * 5).astype(int)
        moved = np.roll(scene.mask, (dy, dx), axis=(0, 1)).astype(bool)
        return float(grey[moved & (scene.mask == 0)].mean())

    assert ground_beside(+1) < 0.9 * ground_beside(-1)  # shadowed side is darker


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError, match="unknown style"):
        generate_scene(64, 64, 0, style="desert")


def test_write_inria_layout_names_crs_values_and_resumes(tmp_path):
    dataset = write_inria_layout(tmp_path, tiles_per_city=2, size=96, seed=1, workers=1,
                                 progress=False)  # fmt: skip
    assert dataset == tmp_path / "AerialImageDataset"
    expected = sorted(f"{city}{n}.tif" for city in INRIA_CITIES for n in (1, 2))
    images = dataset / "train" / "images"
    gts = dataset / "train" / "gt"
    assert sorted(p.name for p in images.iterdir()) == expected
    assert sorted(p.name for p in gts.iterdir()) == expected
    origins = set()
    for name in expected:
        city = name[:-5]
        with rasterio.open(images / name) as image, rasterio.open(gts / name) as gt:
            assert image.count == 3 and image.dtypes[0] == "uint8"
            assert gt.count == 1 and gt.dtypes[0] == "uint8"
            assert image.crs == rasterio.crs.CRS.from_string(CITY_CRS[city]) == gt.crs
            assert image.transform == gt.transform
            assert image.transform.a == pytest.approx(0.3) and image.transform.e == pytest.approx(
                -0.3
            )
            assert set(np.unique(gt.read(1))) <= {0, 255}
            origins.add((city, image.transform.c, image.transform.f))
    assert len(origins) == len(expected)
    mtimes = {p: p.stat().st_mtime_ns for p in [*images.iterdir(), *gts.iterdir()]}
    (images / "kitsap2.tif").unlink()
    write_inria_layout(tmp_path, tiles_per_city=2, size=96, seed=1, workers=1, progress=False)
    for path, mtime in mtimes.items():
        if path.name != "kitsap2.tif":
            assert path.stat().st_mtime_ns == mtime, path
    assert (images / "kitsap2.tif").exists()


def test_write_inria_layout_rejects_unknown_cities_and_styles(tmp_path):
    with pytest.raises(ValueError, match="unknown cities"):
        write_inria_layout(tmp_path, 1, 64, cities=("atlantis",), progress=False)
    with pytest.raises(ValueError, match="unknown style"):
        write_inria_layout(tmp_path, 1, 64, cities=("austin",), styles={"austin": {"desert": 1}},
                           progress=False)  # fmt: skip
    assert not (tmp_path / "AerialImageDataset" / "train" / "images").exists()


def test_degrade_label_drops_adds_and_shifts_buildings():
    truth = np.zeros((600, 600), np.uint8)
    for y in range(20, 580, 40):
        for x in range(20, 580, 40):
            truth[y : y + 20, x : x + 20] = 1
    label = degrade_label(truth, np.random.default_rng(0))
    count_truth = cv2.connectedComponents(truth)[0] - 1
    kept = sum(label[y + 10, x + 10] for y in range(20, 580, 40) for x in range(20, 580, 40))
    assert 0.7 * count_truth < kept < 0.97 * count_truth  # ~15 % missing
    assert (label & ~truth & 1).sum() > 0  # phantoms or shifted labels on empty ground
    removed_only = truth & label
    assert (label != removed_only).sum() > 0


def test_ensure_sample_scene_is_cached_georeferenced_and_imperfect(tmp_path):
    assert not sample_scene_paths(tmp_path, size=512).exists  # nothing generated yet
    scene = ensure_sample_scene(tmp_path, size=512)
    assert sample_scene_paths(tmp_path, size=512) == scene and scene.exists
    with rasterio.open(scene.image_path) as image, rasterio.open(scene.label_path) as label:
        assert image.crs.to_epsg() == 26914 and label.crs == image.crs
        assert image.transform == label.transform and image.shape == label.shape == (512, 512)
        assert image.overviews(1) == [2, 4, 8] and label.overviews(1) == [2, 4, 8]
        assert image.block_shapes[0] == (512, 512) or image.profile["tiled"]
        stored = label.read(1)
    assert set(np.unique(stored)) <= {0, 255}
    arrays = build_sample(512)
    np.testing.assert_array_equal(stored // 255, arrays.label)
    assert (arrays.truth & ~arrays.label & 1).sum() > 0  # missing buildings
    assert (arrays.label & ~arrays.truth & 1).sum() > 0  # phantoms / shifted patch
    mtime = scene.image_path.stat().st_mtime_ns
    assert ensure_sample_scene(tmp_path, size=512) == scene
    assert scene.image_path.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob(".*tmp*"))


def test_cli_scene_writes_image_and_mask(tmp_path):
    out = tmp_path / "scene.tif"
    assert synth_main(["scene", "--out", str(out), "--size", "96", "--style", "rural"]) == 0
    with rasterio.open(out) as image, rasterio.open(tmp_path / "scene_mask.tif") as mask:
        assert image.count == 3 and mask.count == 1 and image.shape == mask.shape == (96, 96)
    with pytest.raises(SystemExit):
        synth_main(["scene", "--out", str(out), "--style", "desert"])


def test_preview_is_a_small_png_mosaic(tmp_path):
    path = write_preview(tmp_path / "preview.png", panel=128)
    image = cv2.imread(str(path))
    assert image.shape == (256, 256, 3)
    outline = (image[..., 2] == 255) & (image[..., 0] == 255) & (image[..., 1] == 0)
    assert outline[128:, 128:].any() and not outline[:128].any()


@pytest.mark.parametrize("shape", ["rect", "L", "T", "U"])
def test_footprint_masks_fill_the_union_of_their_parts(shape):
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    from isegsat.resources.synth.buildings import Building, footprint, render_roofs
    from isegsat.resources.synth.canvas import Canvas
    from isegsat.resources.synth.scene import _random_sun

    rng = np.random.default_rng(3)
    canvas = Canvas.empty(160, 160)
    parts = footprint((80.0, 80.0), 0.4, 110.0, 80.0, shape, rng)
    canvas.buildings.append(Building(parts, "hipped", np.array([150.0, 90, 70]), 20.0))
    render_roofs(canvas, _random_sun(rng), rng)
    union = unary_union([Polygon(part.polygon()) for part in parts])
    assert canvas.mask.sum() == pytest.approx(union.area, rel=0.03)
    count, _ = cv2.connectedComponents((1 - canvas.mask).astype(np.uint8), connectivity=4)
    assert count == 2  # label 0 = the building, label 1 = the ground around it: no holes
