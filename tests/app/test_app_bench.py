"""The viewer benchmark's scene writers and one tiny measured run (a smoke test: no timings)."""

from __future__ import annotations

from pathlib import Path

import rasterio

from isegsat.app.tools.bench import measure, write_big_scene, write_inria_like_tile


def test_big_scene_is_tiled_jpeg_with_external_overviews(tmp_path: Path) -> None:
    path = write_big_scene(tmp_path / "big.tif", size=1100, chip=512, log=lambda text: None)
    with rasterio.open(path) as ds:
        assert ds.shape == (1100, 1100) and ds.count == 3 and ds.crs.to_epsg() == 32633
        assert ds.block_shapes[0] == (512, 512) and ds.compression.name == "jpeg"
        assert ds.overviews(1) == [2, 4, 8]
        assert ds.read(1, window=((1000, 1100), (1000, 1100))).std() > 5  # last strip written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif", "big.tif.ovr"]


def test_measure_opens_pans_and_fits_in_the_real_window(qtbot, tmp_path: Path) -> None:
    path = write_inria_like_tile(tmp_path / "inria.tif", size=1200)
    with rasterio.open(path) as ds:
        assert ds.block_shapes[0][1] == 1200  # strips spanning whole rows, as Inria's files
        assert ds.overviews(1) == [] and ds.compression is None
    figures = measure(path, steps=3)
    assert figures["first_screen_s"] >= figures["open_call_s"] > 0
    p50, p95, worst = figures["pan_ms"]
    assert 0 < p50 <= p95 <= worst
    assert figures["pan_image_px"] > 0 and figures["fit_s"] > 0
    assert figures["rss_peak_mb"] >= figures["rss_idle_mb"] > 0
    assert "first_click_s" not in figures  # no model given


def test_measure_times_the_model_load_and_clicks(qtbot, tmp_path: Path) -> None:
    from isegsat.inference import build_model, save_checkpoint

    weights = tmp_path / "random_h18s.pth"
    save_checkpoint(build_model("hrnet18s"), weights)  # random weights: the speed is the same
    path = write_inria_like_tile(tmp_path / "inria.tif", size=600)
    figures = measure(path, steps=1, weights=weights, clicks=2)
    assert figures["model_load_s"] > 0 and figures["first_click_s"] > 0
    assert len(figures["later_clicks_s"]) == 1 and figures["later_clicks_s"][0] > 0


def test_measure_saves_times_both_save_paths_on_a_dense_layer(qtbot, tmp_path: Path) -> None:
    from isegsat.app.tools.bench import measure_saves

    (tmp_path / "scene").mkdir()
    path = write_inria_like_tile(tmp_path / "scene" / "inria.tif", size=1100)
    figures = measure_saves(path)
    assert figures["save_tiles"] == 9  # every 512 px tile of 1100 x 1100 edited
    assert figures["save_sync_s"] > 0 and figures["save_background_s"] > 0
    assert figures["save_sync_stall_ms"] > 0 and figures["save_background_stall_ms"] > 0
    assert "inria_dense_mask.tif" not in {p.name for p in path.parent.iterdir()}  # cleaned up
