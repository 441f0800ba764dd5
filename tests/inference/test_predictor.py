"""Predictor semantics (RITM BasePredictor: prev mask, flip TTA, ZoomIn, undo) on small models."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from isegsat.inference.clicked_object import clicked_object
from isegsat.inference.clicks import Click, clicks_to_points, encode_points
from isegsat.inference.predictor import Predictor
from isegsat.inference.zoom_in import ZoomIn, crop_shape, object_roi


class TinyClickNet(nn.Module):
    """RITM calling convention on a tiny scale: one 5x5 conv over [RGB, prev mask, positive disk
    map, negative disk map], plus a push of +/-6 logits inside the click disks."""

    with_prev_mask = True

    def __init__(self, radius: float = 6.0) -> None:
        super().__init__()
        self.radius = radius
        self.conv = nn.Conv2d(6, 1, kernel_size=5, padding=2)
        generator = torch.Generator().manual_seed(7)
        with torch.no_grad():
            self.conv.weight.copy_(0.3 * torch.randn(self.conv.weight.shape, generator=generator))
            self.conv.bias.fill_(-1.0)
        self.requires_grad_(False)

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, _, height, width = image.shape
        per_group = points.shape[1] // 2
        rows = torch.arange(height, dtype=image.dtype).view(1, 1, height, 1)
        cols = torch.arange(width, dtype=image.dtype).view(1, 1, 1, width)
        y = points[:, :, 0].view(batch, -1, 1, 1)
        x = points[:, :, 1].view(batch, -1, 1, 1)
        valid = (points[:, :, :2].amax(dim=2) >= 0).view(batch, -1, 1, 1)
        disks = ((rows - y) ** 2 + (cols - x) ** 2 <= self.radius**2) & valid
        positive = disks[:, :per_group].any(dim=1, keepdim=True).to(image.dtype)
        negative = disks[:, per_group:].any(dim=1, keepdim=True).to(image.dtype)
        features = torch.cat((image, positive, negative), dim=1)
        return {"instances": self.conv(features) + 6.0 * (positive - negative)}


@pytest.fixture
def tiny_net() -> TinyClickNet:
    return TinyClickNet().eval()


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A roof-like bright rectangle on textured ground, uint8."""
    rng = np.random.default_rng(seed)
    image = rng.integers(40, 90, size=(height, width, 3), dtype=np.uint8)
    image[height // 4 : height // 2, width // 3 : width // 2] = (200, 190, 180)
    return image


def _as_input(rgb: np.ndarray, prev: np.ndarray) -> torch.Tensor:
    pixels = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
    return torch.cat((pixels, torch.from_numpy(prev)[None]), dim=0)[None]


def _model_prob(net, net_input, clicks) -> torch.Tensor:
    points = torch.from_numpy(clicks_to_points([clicks]))
    return torch.sigmoid(net(net_input, points)["instances"])


def test_first_click_is_the_model_on_image_and_zero_mask(tiny_net):
    rgb = _rgb(40, 56)
    predictor = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    predictor.set_image(rgb)
    np.testing.assert_array_equal(predictor.prob, np.zeros((40, 56), np.float32))
    prob = predictor.add_click(12, 20, True)
    expected = _model_prob(
        tiny_net, _as_input(rgb, np.zeros((40, 56), np.float32)), [Click(12, 20, True)]
    )
    assert prob.dtype == np.float32 and prob.shape == (40, 56)
    np.testing.assert_allclose(prob, expected[0, 0].numpy(), atol=1e-6)
    assert prob[12, 20] > 0.9
    assert predictor.clicks == (Click(12, 20, True),)


def test_next_click_feeds_the_previous_probabilities(tiny_net):
    rgb = _rgb(40, 56)
    predictor = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    predictor.set_image(rgb)
    first = predictor.add_click(12, 20, True).copy()
    second = predictor.add_click(30, 40, False)
    clicks = [Click(12, 20, True), Click(30, 40, False)]
    expected = _model_prob(tiny_net, _as_input(rgb, first), clicks)
    np.testing.assert_allclose(second, expected[0, 0].numpy(), atol=1e-6)
    with_zero_prev = _model_prob(tiny_net, _as_input(rgb, np.zeros_like(first)), clicks)
    assert np.abs(second - with_zero_prev[0, 0].numpy()).max() > 1e-3


def test_flip_averages_logits_of_the_image_and_its_mirror(tiny_net):
    rgb = _rgb(41, 57)
    predictor = Predictor(tiny_net, zoom_in=False, flip=True, device="cpu")
    predictor.set_image(rgb)
    prob = predictor.add_click(10, 15, True)

    net_input = _as_input(rgb, np.zeros((41, 57), np.float32))
    points = torch.from_numpy(clicks_to_points([[Click(10, 15, True)]]))
    mirrored_points = torch.from_numpy(clicks_to_points([[Click(10, 57 - 1 - 15, True)]]))
    logits = tiny_net(net_input, points)["instances"]
    mirrored_logits = tiny_net(net_input.flip(3), mirrored_points)["instances"].flip(3)
    expected = torch.sigmoid(0.5 * (logits + mirrored_logits))[0, 0].numpy()
    np.testing.assert_allclose(prob, expected, atol=1e-6)

    mean_of_probs = 0.5 * (torch.sigmoid(logits) + torch.sigmoid(mirrored_logits))[0, 0].numpy()
    assert np.abs(prob - mean_of_probs).max() > 1e-3, "RITM averages logits, not probabilities"
    no_flip = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    no_flip.set_image(rgb)
    assert np.abs(prob - no_flip.add_click(10, 15, True)).max() > 1e-3


def test_set_prev_mask_is_the_first_previous_mask(tiny_net):
    rgb = _rgb(40, 56)
    existing = np.zeros((40, 56), dtype=bool)
    existing[10:20, 18:28] = True
    predictor = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    predictor.set_image(rgb)
    predictor.set_prev_mask(existing)
    np.testing.assert_array_equal(predictor.prob, existing.astype(np.float32))
    prob = predictor.add_click(30, 40, False)
    expected = _model_prob(
        tiny_net, _as_input(rgb, existing.astype(np.float32)), [Click(30, 40, False)]
    )
    np.testing.assert_allclose(prob, expected[0, 0].numpy(), atol=1e-6)

    np.testing.assert_array_equal(predictor.undo(), existing.astype(np.float32))
    predictor.add_click(30, 40, False)
    predictor.reset()
    np.testing.assert_array_equal(predictor.prob, existing.astype(np.float32))
    predictor.set_prev_mask(None)
    np.testing.assert_array_equal(predictor.prob, np.zeros((40, 56), np.float32))
    predictor.set_prev_mask(existing)
    predictor.set_image(rgb)
    np.testing.assert_array_equal(predictor.prob, np.zeros((40, 56), np.float32))


def test_zoomed_click_runs_on_the_object_crop_and_pastes_back(tiny_net):
    rgb = _rgb(333, 517)
    zoom = ZoomIn()
    predictor = Predictor(tiny_net, zoom_in=zoom, flip=False, device="cpu")
    predictor.set_image(rgb)
    first = predictor.add_click(120, 200, True).copy()
    assert zoom.roi is None, "the first click runs on the full image"
    clicks = [Click(120, 200, True), Click(125, 260, True)]
    second = predictor.add_click(125, 260, True)

    box = object_roi(first > 0.5, clicks, 1.4, 200)
    assert zoom.roi == box
    crop = zoom.crop(_as_input(rgb, first), box)
    assert crop.shape[2:] == crop_shape(box, 400)
    yx = zoom.crop_clicks(box, clicks)
    points = torch.from_numpy(encode_points([yx], [np.array([True, True])]))
    crop_prob = torch.sigmoid(tiny_net(crop, points)["instances"])
    expected = ZoomIn.paste(crop_prob, box, 333, 517)[0, 0].numpy()
    np.testing.assert_allclose(second, expected, atol=1e-6)
    outside = np.ones((333, 517), dtype=bool)
    outside[box.slices] = False
    assert not second[outside].any(), "outside the zoom box the map is zero, as in RITM"
    assert second[125, 260] > 0.9


def test_refined_first_click_runs_again_on_its_blob_with_the_first_previous_mask(tiny_net):
    rgb = _rgb(150, 210)
    existing = np.zeros((150, 210), dtype=np.float32)
    existing[40:60, 80:110] = 1.0
    zoom = ZoomIn(target_size=96, min_crop_size=30, refine_ratio=3.0)
    predictor = Predictor(tiny_net, zoom_in=zoom, flip=False, device="cpu")
    predictor.set_image(rgb)
    predictor.set_prev_mask(existing)
    click = Click(50, 95, True)
    refined = predictor.add_click(click.y, click.x, click.is_positive).copy()

    full = _model_prob(tiny_net, _as_input(rgb, existing), [click])[0, 0].numpy()
    box = object_roi(clicked_object(full > 0.5, [click]).astype(bool), [click], 3.0, 30)
    assert zoom.roi == box and box.height < 150  # the second pass ran on the blob's box
    crop = zoom.crop(_as_input(rgb, existing), box)  # the first previous mask, not pass one's
    assert crop.shape[2:] == crop_shape(box, 96)
    points = torch.from_numpy(encode_points([zoom.crop_clicks(box, [click])], [np.array([True])]))
    crop_prob = torch.sigmoid(tiny_net(crop, points)["instances"])
    np.testing.assert_allclose(refined, ZoomIn.paste(crop_prob, box, 150, 210)[0, 0], atol=1e-6)
    assert np.abs(refined - full).max() > 1e-3

    np.testing.assert_array_equal(predictor.undo(), existing)
    assert zoom.roi is None
    np.testing.assert_array_equal(predictor.add_click(50, 95, True), refined)
    predictor.set_zoom_in(False)
    assert predictor.zoom_in is None and predictor.clicks == ()
    np.testing.assert_allclose(predictor.add_click(50, 95, True), full, atol=1e-6)


def test_a_negative_first_click_is_not_refined(tiny_net):
    zoom = ZoomIn(target_size=96, min_crop_size=30, refine_ratio=3.0)
    predictor = Predictor(tiny_net, zoom_in=zoom, flip=False, device="cpu")
    predictor.set_image(_rgb(150, 210))
    plain = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    plain.set_image(_rgb(150, 210))
    np.testing.assert_array_equal(
        predictor.add_click(50, 95, False), plain.add_click(50, 95, False)
    )
    assert zoom.roi is None


def test_undo_and_reset_restore_exact_maps_and_zoom_state(tiny_net):
    rgb = _rgb(333, 517)
    predictor = Predictor(tiny_net, zoom_in=True, flip=True, device="cpu")
    predictor.set_image(rgb)
    clicks = [(120, 200, True), (125, 260, True), (60, 300, False), (200, 100, True)]
    maps = [predictor.prob.copy()]
    rois = [predictor.zoom_in.roi]
    for y, x, positive in clicks:
        maps.append(predictor.add_click(y, x, positive).copy())
        rois.append(predictor.zoom_in.roi)
    assert rois[1] is None and rois[2] is not None
    assert rois[4] != rois[3], "the far positive click moved the zoom box"
    assert all(m.shape == (333, 517) and m.min() >= 0 and m.max() <= 1 for m in maps)

    for undone in range(len(clicks), 0, -1):
        restored = predictor.undo()
        np.testing.assert_array_equal(restored, maps[undone - 1])
        assert predictor.zoom_in.roi == rois[undone - 1]
        assert len(predictor.clicks) == undone - 1
        if undone >= 2:
            redone = predictor.add_click(*clicks[undone - 1])
            np.testing.assert_array_equal(redone, maps[undone])
            predictor.undo()
    np.testing.assert_array_equal(predictor.undo(), maps[0])

    for y, x, positive in clicks[:2]:
        predictor.add_click(y, x, positive)
    predictor.reset()
    assert predictor.clicks == ()
    assert predictor.zoom_in.roi is None
    np.testing.assert_array_equal(predictor.prob, np.zeros((333, 517), np.float32))
    np.testing.assert_array_equal(predictor.add_click(*clicks[0]), maps[1])


class CountingClickNet(TinyClickNet):
    """TinyClickNet that counts its forward passes (one per click without flip)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        return super().forward(image, points)


def test_set_clicks_converges_like_a_fresh_replay_with_minimal_model_calls():
    rgb = _rgb(333, 517)
    a, b, c, d = (
        Click(120, 200, True),
        Click(125, 260, True),
        Click(60, 300, False),
        Click(200, 100, True),
    )
    predictor = Predictor(CountingClickNet().eval(), zoom_in=True, flip=False, device="cpu")
    predictor.set_image(rgb)
    counted = predictor.model  # the fused copy the predictor calls

    def replayed(clicks) -> np.ndarray:
        fresh = Predictor(TinyClickNet().eval(), zoom_in=True, flip=False, device="cpu")
        fresh.set_image(rgb)
        for click in clicks:
            fresh.add_click(click.y, click.x, click.is_positive)
        return fresh.prob

    # (target clicks, model calls needed from the previous state: only the clicks it lacks)
    steps = [((a, b, c), 3), ((a, b), 0), ((a, b, d), 1), ((a, c, d), 2), ((a, c, d), 0), ((), 0)]
    steps += [((d,), 1)]
    for clicks, calls in steps:
        before = counted.calls
        prob = predictor.set_clicks(clicks)
        assert counted.calls - before == calls, clicks
        assert predictor.clicks == clicks
        np.testing.assert_array_equal(prob, replayed(clicks))
        np.testing.assert_array_equal(predictor.prob, prob)


def test_set_clicks_outside_the_image_leaves_the_predictor_unchanged(tiny_net):
    predictor = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    predictor.set_image(_rgb(30, 40))
    predictor.set_clicks([Click(5, 5, True), Click(10, 20, False)])
    kept = predictor.prob.copy()
    with pytest.raises(ValueError, match="outside"):
        predictor.set_clicks([Click(5, 5, True), Click(30, 0, True)])
    assert predictor.clicks == (Click(5, 5, True), Click(10, 20, False))
    np.testing.assert_array_equal(predictor.prob, kept)


def test_returned_maps_are_read_only(tiny_net):
    predictor = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    predictor.set_image(_rgb(20, 24))
    prob = predictor.add_click(5, 5, True)
    with pytest.raises(ValueError, match="read-only"):
        prob[0, 0] = 1.0


def test_float_image_matches_uint8_image(tiny_net):
    rgb = _rgb(21, 23)
    from_uint8 = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    from_uint8.set_image(rgb)
    from_float = Predictor(tiny_net, zoom_in=False, flip=False, device="cpu")
    from_float.set_image(rgb.astype(np.float64) / 255)
    np.testing.assert_allclose(
        from_float.add_click(4, 6, True), from_uint8.add_click(4, 6, True), atol=1e-6
    )


def test_bad_calls_raise_clear_errors(tiny_net):
    predictor = Predictor(tiny_net, device="cpu")
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.add_click(0, 0, True)
    with pytest.raises(ValueError, match="HxWx3"):
        predictor.set_image(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predictor.set_image(np.full((8, 8, 3), 2.0))
    with pytest.raises(ValueError, match="uint8 or float"):
        predictor.set_image(np.zeros((8, 8, 3), np.int32))
    predictor.set_image(_rgb(30, 40))
    for y, x in [(30, 0), (0, 40), (-1, 5), (5, -1)]:
        with pytest.raises(ValueError, match="outside"):
            predictor.add_click(y, x, True)
    with pytest.raises(TypeError):
        predictor.add_click(2.5, 3, True)
    with pytest.raises(ValueError, match="30x40"):
        predictor.set_prev_mask(np.zeros((40, 30)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predictor.set_prev_mask(np.full((30, 40), 255))
    assert predictor.clicks == ()
    unfused = Predictor(tiny_net.train(), fuse=False, device="cpu")
    unfused.set_image(_rgb(30, 40))
    with pytest.raises(ValueError, match="eval"):
        unfused.add_click(3, 3, True)


def test_undo_without_clicks_keeps_the_map(tiny_net):
    predictor = Predictor(tiny_net, device="cpu")
    predictor.set_image(_rgb(20, 24))
    np.testing.assert_array_equal(predictor.undo(), np.zeros((20, 24), np.float32))
    assert predictor.clicks == ()


def test_real_hrnet18s_through_the_predictor():
    inference = pytest.importorskip("isegsat.inference")
    if not hasattr(inference, "build_model"):
        pytest.skip("isegsat.inference.build_model is not available yet")
    torch.manual_seed(0)
    model = inference.build_model("hrnet18s").eval()
    predictor = Predictor(
        model, zoom_in=ZoomIn(target_size=96, min_crop_size=24), flip=True, device="cpu"
    )
    rgb = _rgb(67, 93)
    predictor.set_image(rgb)
    first = predictor.add_click(25, 40, True).copy()
    assert first.shape == (67, 93) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    unfused = Predictor(model, zoom_in=False, flip=True, device="cpu", fuse=False)
    unfused.set_image(rgb)
    np.testing.assert_allclose(unfused.add_click(25, 40, True), first, atol=1e-5)
    mask = np.zeros((67, 93), dtype=bool)
    mask[20:30, 35:45] = True
    predictor.set_prev_mask(mask)
    from_mask = predictor.add_click(25, 40, True).copy()
    assert np.abs(from_mask - first).max() > 0, "the starting mask reaches the model"
    second = predictor.add_click(50, 80, False)
    assert predictor.zoom_in.roi is not None or not (from_mask > 0.5).any()
    assert second.shape == (67, 93) and np.isfinite(second).all()
    np.testing.assert_array_equal(predictor.undo(), from_mask)
    assert predictor.clicks == (Click(25, 40, True),)


def test_hrnet_output_size_is_upsampled_when_smaller():
    """A model returning logits at a lower resolution is resized back like RITM does."""

    class HalfResolution(TinyClickNet):
        def forward(self, image, points):
            logits = super().forward(image, points)["instances"]
            return {"instances": F.avg_pool2d(logits, 2)}

    predictor = Predictor(HalfResolution().eval(), zoom_in=False, flip=True, device="cpu")
    predictor.set_image(_rgb(33, 45))
    assert predictor.add_click(10, 10, True).shape == (33, 45)


@pytest.mark.gpu
def test_hrnet18s_predictor_on_cuda_matches_cpu():
    from isegsat.inference import build_model

    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    rgb = _rgb(301, 417)
    clicks = [(100, 180, True), (90, 150, True), (200, 300, False)]
    first_maps = {}
    for device in ("cpu", "cuda"):
        predictor = Predictor(model, device=device)
        predictor.set_image(rgb)
        maps = [predictor.add_click(*click).copy() for click in clicks]
        assert all(m.shape == (301, 417) and np.isfinite(m).all() for m in maps)
        np.testing.assert_array_equal(predictor.undo(), maps[1])
        np.testing.assert_array_equal(predictor.undo(), maps[0])
        first_maps[device] = maps[0]
    assert next(model.parameters()).device.type == "cpu", "the caller's model stays where it was"
    np.testing.assert_allclose(first_maps["cuda"], first_maps["cpu"], atol=2e-3)
