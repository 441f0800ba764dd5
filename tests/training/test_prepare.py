"""isegsat-prepare: pairing by file name, split by tile number, crops, manifest, resuming."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from isegsat.resources.synth import write_inria_layout
from isegsat.training.manifest import COLUMNS
from isegsat.training.prepare import (
    PrepareError,
    find_inria_train_dir,
    folder_pairs,
    inria_pairs,
    main,
    parse_tile_list,
    prepare,
)

CROP = 96  # as the `prepared_crops` fixture of conftest.py
TILES_PER_CITY = 6


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _small_tree(tmp_path: Path, parent: str, cities: tuple[str, ...] = ("chicago",)) -> Path:
    root = tmp_path / parent
    write_inria_layout(root, tiles_per_city=TILES_PER_CITY, size=CROP, seed=1, cities=cities)
    return root


def test_manifest_columns_counts_and_split(prepared_crops: Path) -> None:
    rows = _rows(prepared_crops)
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 5 * TILES_PER_CITY * 4  # 192 px tiles -> 2 x 2 crops of 96 px
    test_tiles = {int(r["tile"]) for r in rows if r["split"] == "test"}
    train_tiles = {int(r["tile"]) for r in rows if r["split"] == "train"}
    assert test_tiles == {1, 2, 3, 4, 5} and train_tiles == {6}
    assert sum(r["split"] == "train" for r in rows) == 20
    assert {r["crop_id"] for r in rows} >= {"tyrol-w6_r1_c0", "austin1_r0_c1"}


def test_crops_match_the_source_windows(prepared_crops: Path, inria_root: Path) -> None:
    row = next(r for r in _rows(prepared_crops) if r["crop_id"] == "vienna6_r1_c0")
    image = cv2.cvtColor(cv2.imread(str(prepared_crops / row["image"])), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(prepared_crops / row["mask"]), cv2.IMREAD_GRAYSCALE)
    train = inria_root / "AerialImageDataset" / "train"
    window = Window(0, CROP, CROP, CROP)  # row 1, column 0
    with rasterio.open(train / "images" / "vienna6.tif") as src:
        expected = np.moveaxis(src.read((1, 2, 3), window=window), 0, -1)
    with rasterio.open(train / "gt" / "vienna6.tif") as src:
        expected_mask = src.read(1, window=window)
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_array_equal(mask, np.where(expected_mask > 0, 255, 0))
    assert float(row["building_fraction"]) == pytest.approx((mask > 0).mean(), abs=1e-6)


def test_second_run_writes_nothing_and_redoes_incomplete_crops(
    prepared_crops: Path, inria_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(prepared_crops, out)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    result = prepare(inria_pairs(inria_root), out, crop=CROP)
    assert (result.written, result.skipped) == (0, 120)
    assert {p: p.stat().st_mtime_ns for p in (out / "images").iterdir()} == stamps
    (out / "masks" / "kitsap6_r0_c1.png").unlink()  # as if interrupted mid-crop
    result = prepare(inria_pairs(inria_root), out, crop=CROP)
    assert result.written == 1 and (out / "masks" / "kitsap6_r0_c1.png").is_file()
    assert _rows(out) == _rows(prepared_crops)


def test_parent_folder_names_do_not_change_the_split(tmp_path: Path) -> None:
    root = _small_tree(tmp_path, "austin_stuff/data2")
    rows = []
    for given in (root, root / "AerialImageDataset", root / "AerialImageDataset" / "train"):
        assert find_inria_train_dir(given) == root / "AerialImageDataset" / "train"
        pairs = inria_pairs(given)
        rows.append([(p.city, p.tile, p.split) for p in pairs])
    assert rows[0] == rows[1] == rows[2]
    assert rows[0] == [("chicago", str(n), "test" if n <= 5 else "train") for n in range(1, 7)]


def test_unpaired_and_misnamed_files_are_named(tmp_path: Path) -> None:
    root = _small_tree(tmp_path, "tree")
    train = root / "AerialImageDataset" / "train"
    (train / "gt" / "chicago3.tif").unlink()
    shutil.copy(train / "gt" / "chicago4.tif", train / "gt" / "chicago40.tif")
    with pytest.raises(PrepareError, match="chicago3.tif") as error:
        inria_pairs(root)
    assert "chicago40.tif" in str(error.value) and "--allow-missing" in str(error.value)
    with pytest.warns(UserWarning, match="chicago3.tif"):
        pairs = inria_pairs(root, allow_missing=True)
    assert [p.tile for p in pairs] == ["1", "2", "4", "5", "6"]
    shutil.copy(train / "images" / "chicago4.tif", train / "images" / "Chicago_4.tif")
    with pytest.raises(PrepareError, match="Chicago_4.tif"):
        inria_pairs(root, allow_missing=True)


def test_missing_layout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PrepareError, match="AerialImageDataset"):
        inria_pairs(tmp_path)
    assert main(["--inria", str(tmp_path), "--out", str(tmp_path / "out")]) == 2


def test_pairs_mode_splits_by_test_tiles(tmp_path: Path) -> None:
    root = _small_tree(tmp_path, "own")
    train = root / "AerialImageDataset" / "train"
    pairs = folder_pairs(train / "images", train / "gt", "lyon", parse_tile_list("2-3,chicago6"))
    assert [(p.name, p.split) for p in pairs] == [
        ("lyon_chicago1", "train"),
        ("lyon_chicago2", "test"),
        ("lyon_chicago3", "test"),
        ("lyon_chicago4", "train"),
        ("lyon_chicago5", "train"),
        ("lyon_chicago6", "test"),
    ]
    out = tmp_path / "out"
    code = main(
        ["--pairs", str(train / "images"), str(train / "gt"), "--city", "lyon"]
        + ["--test-tiles", "1", "--out", str(out), "--crop", "48", "--workers", "2"]
    )
    rows = _rows(out)
    assert code == 0 and len(rows) == 6 * 4
    assert {r["crop_id"].split("_r")[0] for r in rows if r["split"] == "test"} == {"lyon_chicago1"}
    assert all(r["city"] == "lyon" for r in rows)
