"""The exact runtime's Triton kernels (launched, checked and explained by exact_kernels.py).

Importing this module needs Triton; exact_kernels.py imports it only where the kernels can run.
"""
import triton
import triton.language as tl

ROUNDING = tl.constexpr(12582912.0)  # 1.5 * 2**23: v + it lands where float32's spacing is 1

# Triton compiles a kernel again for each new specialization of its integer arguments (being 1, a
# multiple of 16). Channel counts and strides keep theirs: they decide whether loads along the
# channels are contiguous and aligned, so vectorized. Sizes, padding and steps only bound masks
# and offsets: specialized, they made each layer shape its own compilation (a cold evaluation of
# MobileNetV2 compiled 23 variants, 13.5 s on an H100; now 12, the self-check's, 7.1 s).
GEOMETRY = ["height", "width", "pad_h", "pad_w"]


@triton.jit
def _integers(v, lo, hi):
    """round(clamp(v, lo, hi)) to nearest even, exact for |lo|, |hi| <= 2**22; NaN counts as 0."""
    v = tl.where(v != v, 0.0, v)
    v = tl.minimum(tl.maximum(v, lo), hi)
    return (v + ROUNDING) - ROUNDING


@triton.jit(do_not_specialize=GEOMETRY)
def quantize_kernel(x_ptr, out_ptr, r, lo, hi, offset, channels, height, width,
                    stride_n, stride_c, stride_h, stride_w, pad_h, pad_w,
                    BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
    # One image row (n, h), a tile of its pixels by channels: contiguous along w for an NCHW
    # input, along c for a channels-last one and for the output.
    n = tl.program_id(0) // height
    h = tl.program_id(0) % height
    w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    col = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = (w < width)[:, None] & (col < channels)[None, :]
    source = n * stride_n + h * stride_h + (w * stride_w)[:, None] + (col * stride_c)[None, :]
    pixel = (n * (height + 2 * pad_h) + h + pad_h) * (width + 2 * pad_w) + w + pad_w
    v = _integers(tl.load(x_ptr + source, mask=mask, other=0.0) * r, lo, hi)
    tl.store(out_ptr + (pixel * channels)[:, None] + col[None, :], (v + offset).to(tl.int8), mask=mask)


@triton.jit(do_not_specialize=["rows"])
def finish_kernel(acc_ptr, correction_ptr, scale_ptr, bias_ptr, out_ptr, rows, channels, acc_stride,
                  HAS_BIAS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    row = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    col = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    keep = col < channels
    mask = (row < rows)[:, None] & keep[None, :]
    acc = tl.load(acc_ptr + (row * acc_stride)[:, None] + col[None, :], mask=mask, other=0)
    acc = acc + tl.load(correction_ptr + col, mask=keep, other=0)[None, :]
    out = acc.to(tl.float32) * tl.load(scale_ptr + col, mask=keep, other=1.0)[None, :]
    if HAS_BIAS:
        out = out + tl.load(bias_ptr + col, mask=keep, other=0.0)[None, :]
    tl.store(out_ptr + (row * channels)[:, None] + col[None, :], out, mask=mask)


@triton.jit(do_not_specialize=GEOMETRY + ["out_height", "out_width", "step_h", "step_w", "dilation_h", "dilation_w"])
def depthwise_kernel(x_ptr, weight_ptr, scale_ptr, bias_ptr, out_ptr, r, lo, hi,
                     channels, height, width, out_height, out_width,
                     stride_n, stride_c, stride_h, stride_w,
                     step_h, step_w, pad_h, pad_w, dilation_h, dilation_w,
                     KH: tl.constexpr, KW: tl.constexpr, HAS_BIAS: tl.constexpr,
                     BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
    # One output row (n, ho), a tile of its pixels by channels. Each tap quantizes the input it
    # reads (as quantize_kernel does) and adds (q - zp) * w in int32: exact, in any order.
    n = tl.program_id(0) // out_height
    ho = tl.program_id(0) % out_height
    wo = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    col = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    keep = col < channels
    acc = tl.zeros((BLOCK_W, BLOCK_C), dtype=tl.int32)
    for kh in tl.static_range(KH):
        h = ho * step_h - pad_h + kh * dilation_h
        for kw in tl.static_range(KW):
            w = wo * step_w - pad_w + kw * dilation_w
            mask = ((w >= 0) & (w < width) & (h >= 0) & (h < height))[:, None] & keep[None, :]
            source = n * stride_n + h * stride_h + (w * stride_w)[:, None] + (col * stride_c)[None, :]
            v = _integers(tl.load(x_ptr + source, mask=mask, other=0.0) * r, lo, hi)
            v = tl.where(mask, v, 0.0)  # padding: q - zp = 0
            tap = tl.load(weight_ptr + col * (KH * KW) + kh * KW + kw, mask=keep, other=0)
            acc += v.to(tl.int32) * tap[None, :]
    out = acc.to(tl.float32) * tl.load(scale_ptr + col, mask=keep, other=1.0)[None, :]
    if HAS_BIAS:
        out = out + tl.load(bias_ptr + col, mask=keep, other=0.0)[None, :]
    pixel = (n * out_height + ho) * out_width + wo
    tl.store(out_ptr + (pixel * channels)[:, None] + col[None, :], out, mask=(wo < out_width)[:, None] & keep[None, :])
