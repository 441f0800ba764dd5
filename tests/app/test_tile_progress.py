"""Tile progress beside the label layer: atomic save, load checks, next undone tile."""

from __future__ import annotations

from pathlib import Path

from isegsat.app.navigation import next_undone
from isegsat.app.tile_progress import (
    ProgressKeeper,
    TileProgress,
    load_progress,
    progress_path,
    save_progress,
)


def test_progress_round_trips_beside_the_labels(tmp_path: Path):
    path = progress_path(tmp_path / "city_labels.tif")
    assert path == tmp_path / "city_labels.tif.progress.json"
    progress = TileProgress(160, 192, 64, 4, frozenset({0, 1, 3}))
    save_progress(path, progress)
    assert load_progress(path, 160, 192) == progress
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


def test_progress_of_another_image_size_or_a_damaged_file_is_ignored(tmp_path: Path):
    path = tmp_path / "x.progress.json"
    save_progress(path, TileProgress(160, 192, 64, 0, frozenset()))
    assert load_progress(path, 160, 200) is None
    path.write_text('{"height": 160, "width": 1')  # torn by hand: the writer never does this
    assert load_progress(path, 160, 192) is None
    assert load_progress(tmp_path / "missing.json", 160, 192) is None


def test_the_keeper_writes_only_changes(tmp_path: Path):
    path = tmp_path / "p.json"
    keeper = ProgressKeeper(path)
    first = TileProgress(10, 10, 5, 0, frozenset())
    keeper.keep(first)
    path.write_text("left alone")
    keeper.keep(first)  # unchanged: no write
    assert path.read_text() == "left alone"
    keeper.keep(TileProgress(10, 10, 5, 1, frozenset({0})))
    assert load_progress(path, 10, 10).done == {0}


def test_next_undone_wraps_round_and_ends_when_all_are_done():
    assert next_undone(frozenset({1, 2}), 4, 0) == 3
    assert next_undone(frozenset({3, 0}), 4, 2) == 1
    assert next_undone(frozenset({0, 1, 2, 3}), 4, 1) is None
