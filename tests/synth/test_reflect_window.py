"""The swing's reflected windows (synth/_reflect_window.py) against F.pad's reflection and a crop."""
import pytest
import torch
import torch.nn.functional as F

from synth._reflect_window import reflect_pad, reflect_shift, reflect_window

LAYOUTS = [torch.contiguous_format, torch.channels_last]


def _map(layout):
    torch.manual_seed(0)
    return torch.randn(2, 5, 7, 6, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()


def _gradient(out, x, seed):
    grad = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    if out.is_contiguous(memory_format=torch.channels_last):  # as autograd hands it: in the output's layout
        grad = grad.contiguous(memory_format=torch.channels_last)
    return torch.autograd.grad(out, x, grad)[0]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("jitter", [1, 2])
def test_every_shift_is_the_padded_map_s_crop_with_its_gradient(layout, jitter):
    x = _map(layout)
    for dy in range(2 * jitter + 1):
        for dx in range(2 * jitter + 1):
            crop = F.pad(x, [jitter] * 4, mode="reflect")[..., dy:dy + 7, dx:dx + 6]
            shifted = reflect_shift(x, dy - jitter, dx - jitter)
            assert torch.equal(crop, shifted)
            assert torch.allclose(_gradient(crop, x, dy * 9 + dx), _gradient(shifted, x, dy * 9 + dx), atol=1e-12)
            if layout == torch.channels_last:  # kept channels-last, forward and backward
                assert shifted.is_contiguous(memory_format=layout)
                assert _gradient(shifted, x, 0).is_contiguous(memory_format=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_pad_is_f_pad_s_reflection(layout):
    x = _map(layout)
    reference, padded = F.pad(x, [2] * 4, mode="reflect"), reflect_pad(x, 2)
    assert torch.equal(reference, padded)
    assert torch.allclose(_gradient(reference, x, 1), _gradient(padded, x, 1), atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [2, 3])
def test_every_window_is_the_reflected_index_with_its_gradient(layout, dim):
    """Any window that overlaps the map, shorter or longer than it: x[reflect(start + i)]."""
    x = _map(layout)
    size = x.shape[dim]
    for start in range(-(size - 1), size):
        for length in range(1, 3 * size):
            indices = [start + i for i in range(length)]
            if indices[-1] > 2 * (size - 1) or max(indices) < 0 or min(indices) > size - 1:
                continue
            reflected = torch.tensor([-k if k < 0 else 2 * (size - 1) - k if k > size - 1 else k for k in indices])
            reference, window = x.index_select(dim, reflected), reflect_window(x, dim, start, length)
            assert torch.equal(reference, window), (start, length)
            assert torch.allclose(_gradient(reference, x, length), _gradient(window, x, length), atol=1e-12)


def test_an_unshifted_map_is_passed_on_and_a_reach_beyond_the_map_is_refused():
    x = _map(torch.contiguous_format)
    assert reflect_shift(x, 0, 0) is x
    with pytest.raises(ValueError, match="beyond the map"):
        reflect_window(x, 2, -7, 7)  # reflect(-7) is outside a 7-row map
    with pytest.raises(ValueError, match="overlap the map"):
        reflect_window(x, 2, -3, 2)  # rows 3 and 2 reflected, none of the map's own
