"""Object mode on generated scenes (no Qt): one click gives the clicked building, not its
neighbours, and the window grows only for that building, within its caps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes.scenes import write_scene_raster
from rasterio.windows import Window
from scipy import ndimage

from isegsat import resources
from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode, PredictResult, SessionConfig
from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.inference import Predictor, load_model
from isegsat.inference.box import Box
from isegsat.inference.clicked_object import EIGHT_CONNECTED
from isegsat.resources.synth import generate_scene

Predict = Callable[[object], np.ndarray]  # PredictRequest -> (h, w) float32 prob on its box


@pytest.fixture
def open_session(tmp_path: Path):
    """`open_session(image, **config)`: an object-mode session on `image` ((H, W, 3) uint8)
    written as a GeoTIFF, with empty labels (source and labels are closed after the test)."""
    opened = []

    def open_(image: np.ndarray, **config) -> AnnotationSession:
        path = write_scene_raster(tmp_path / "scene.tif", np.moveaxis(image, -1, 0))
        source = RasterSource.open(path)
        opened.append(source)
        labels = LabelLayer.create(tmp_path / "labels.tif", like=source)
        opened.append(labels)
        session = AnnotationSession(labels, source, *image.shape[:2], SessionConfig(**config))
        session.set_mode(Mode.OBJECT)
        return session

    yield open_
    for item in reversed(opened):
        item.close()


def click_and_settle(session: AnnotationSession, y: int, x: int, predict: Predict) -> list[Box]:
    """One positive click at image pixel (y, x), answered (and re-answered while the window
    grows) synchronously by `predict`; returns the boxes of the requests made."""
    change = session.click(y, x, True)
    boxes = []
    while change is not None and change.request is not None:
        request = change.request
        boxes.append(request.box)
        prob = predict(request).astype(np.float32)
        change = session.apply(PredictResult(request.seq, request.target_id, prob, 0.0, "CPU"))
    return boxes


def accepted(session: AnnotationSession) -> np.ndarray:
    session.accept()
    return session.labels.read(Window(0, 0, session.width, session.height)).astype(bool)


def box_slices(box: Box) -> tuple[slice, slice]:
    return slice(box.row, box.row + box.height), slice(box.col, box.col + box.width)


@pytest.fixture(scope="module")
def suburb():
    """A generated 384² suburban scene and one of its buildings with neighbours around it:
    (scene, building mask (H, W) bool, click (y, x) deep inside the building)."""
    scene = generate_scene(384, 384, seed=21, style="suburban")
    components, count = ndimage.label(scene.mask, structure=EIGHT_CONNECTED)
    best = None
    for index, found in enumerate(ndimage.find_objects(components), start=1):
        extent = max(s.stop - s.start for s in found)
        centre = np.array([(s.start + s.stop) / 2 for s in found])
        distance = np.abs(centre - 192).max()
        if 30 <= extent <= 80 and (best is None or distance < best[0]):
            best = (distance, index)
    building = components == best[1]
    inside = ndimage.distance_transform_edt(building)
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    assert count >= 5
    return scene, building, (int(y), int(x))


def test_a_model_painting_neighbours_and_a_lot_gives_only_the_clicked_building(
    open_session, suburb
) -> None:
    scene, building, (y, x) = suburb

    def paints_everything(request) -> np.ndarray:
        prob = scene.mask[box_slices(request.box)].astype(np.float32)
        prob[:, :30] = 1.0  # a parking lot along the window's left side
        return prob

    session = open_session(scene.image)
    boxes = click_and_settle(session, y, x, paints_everything)
    window = scene.mask[box_slices(boxes[0])].astype(bool)
    assert (window & ~building[box_slices(boxes[0])]).sum() > 1000  # neighbours were painted
    assert boxes == [Box(y - 128, x - 128, 256, 256)]  # no growth for other blobs
    np.testing.assert_array_equal(session.current_mask(), building[box_slices(boxes[0])])
    np.testing.assert_array_equal(accepted(session), building)


def big_building(size: int, image_side: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(image (S, S, 3) uint8, building (S, S) bool): a centred size² roof on dark ground."""
    building = np.zeros((image_side, image_side), dtype=bool)
    start = (image_side - size) // 2
    building[start : start + size, start : start + size] = True
    image = np.where(building[..., None], 200, 40).astype(np.uint8).repeat(3, axis=2)
    return image, building


def test_the_window_grows_while_the_clicked_building_touches_it(open_session) -> None:
    image, building = big_building(300)
    neighbour = np.zeros_like(building)
    neighbour[:, 1000:] = True  # a blob on the image's right edge, outside the building

    def true_mask(request) -> np.ndarray:
        return (building | neighbour)[box_slices(request.box)]

    session = open_session(image)
    boxes = click_and_settle(session, 512, 512, true_mask)
    assert [(b.height, b.width) for b in boxes] == [(256, 256), (384, 384)]
    assert boxes[1].row <= 362 and boxes[1].row + 384 >= 662  # the grown window holds it
    np.testing.assert_array_equal(accepted(session), building)


@pytest.mark.parametrize(
    ("config", "sides"),
    [({}, [256, 384, 576]), ({"max_growth_steps": 9}, [256, 384, 576, 640])],
)
def test_growth_stops_at_the_step_and_size_caps(open_session, config, sides) -> None:
    image, building = big_building(900)
    session = open_session(image, **config)
    boxes = click_and_settle(session, 512, 512, lambda r: building[box_slices(r.box)])
    assert [b.height for b in boxes] == [b.width for b in boxes] == sides
    last = boxes[-1]
    expected = np.zeros_like(building)
    expected[box_slices(last)] = True
    np.testing.assert_array_equal(accepted(session), expected)


def test_a_click_on_a_labelled_building_opens_a_window_three_times_its_size(
    open_session,
) -> None:
    image, building = big_building(60, image_side=512)
    session = open_session(image)
    session.labels.write(Window(0, 0, 512, 512), building.astype(np.uint8))
    request = session.click(230, 240, True).request
    assert request.box == Box(256 - 90, 256 - 90, 180, 180)
    assert request.prev_mask.sum() == 60 * 60


@pytest.mark.skipif(resources.bundled_model_path() is None, reason="bundled weights not installed")
def test_one_click_with_the_bundled_model_stays_near_the_clicked_building(
    open_session, suburb
) -> None:
    scene, building, (y, x) = suburb
    predictor = Predictor(load_model(resources.bundled_model_path(), device="cpu"))

    def bundled(request) -> np.ndarray:
        predictor.set_image(scene.image[box_slices(request.box)])
        predictor.set_prev_mask(request.prev_mask)
        for click in request.clicks:
            predictor.add_click(click.y, click.x, click.is_positive)
        return predictor.prob

    session = open_session(scene.image)
    boxes = click_and_settle(session, y, x, bundled)
    assert len(boxes) <= 3 and max(max(b.height, b.width) for b in boxes) <= 640
    result = accepted(session)
    near = ndimage.binary_dilation(building, iterations=max(building.shape) // 16)
    assert result[y, x] and result.any()
    assert not (result & ~near).any(), "pixels accepted far from the clicked building"
    print(f"windows {[b.height for b in boxes]}, accepted {int(result.sum())} px")
