"""Image filters for the gradient: Gaussian smoothing and Laplacian-pyramid normalization."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_blur", "cascade_smooth", "lap_normalize", "resize", "keep_colors"]


def _radius(sigma: float) -> int:
    return max(1, math.ceil(3.0 * sigma))


def _gaussian_kernel(sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    radius = _radius(sigma)
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def _spatial_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable blur by direct convolution; the kernel is cut to fit tiny images."""
    kernel = _gaussian_kernel(sigma, x.device, x.dtype)
    radius = kernel.numel() // 2
    channels = x.shape[1]
    # Reflection needs the pad to be smaller than the side; clamp for tiny images.
    pad_h = min(radius, x.shape[2] - 1)
    pad_w = min(radius, x.shape[3] - 1)
    kh = kernel[radius - pad_h : radius + pad_h + 1]
    kw = kernel[radius - pad_w : radius + pad_w + 1]
    kh, kw = kh / kh.sum(), kw / kw.sum()
    x = F.pad(x, (pad_w, pad_w, 0, 0), mode="reflect")
    x = F.conv2d(x, kw.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    x = F.pad(x, (0, 0, pad_h, pad_h), mode="reflect")
    return F.conv2d(x, kh.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def _fft_size(n: int) -> int:
    """The smallest length >= n with no prime factor above 5 (fast for the FFT)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _kernel_spectrum(sigma: float, length: int, device: torch.device) -> torch.Tensor:
    """DFT over ``length`` of the sampled kernel centred on index 0 (real: it is symmetric)."""
    kernel = _gaussian_kernel(sigma, device, torch.float64)
    radius = kernel.numel() // 2
    t = torch.arange(1, radius + 1, device=device, dtype=torch.float64)
    f = torch.arange(length, device=device, dtype=torch.float64)
    cos = torch.cos(2.0 * math.pi * f[:, None] * t[None, :] / length)
    return kernel[radius] + 2.0 * cos @ kernel[radius + 1 :]


def _blur_mean(x: torch.Tensor, sigmas: tuple[float, ...]) -> torch.Tensor:
    """Mean of separable Gaussian blurs of (B, C, H, W) at ``sigmas``, reflected borders.

    Large images go through one FFT: the blurs are linear, so their mean is a single
    filter, applied to the image reflected by the largest radius (enough that the
    FFT's wrap-around never reaches the picture). The result equals direct convolution
    with the same sampled kernels to float rounding, and it is many times faster than
    PyTorch's grouped convolution on a large single image (see docs/performance.md).
    """
    height, width = x.shape[-2:]
    radius = _radius(max(sigmas))
    if radius >= min(height, width):  # too small to reflect the whole kernel: blur directly
        return sum(_spatial_blur(x, s) for s in sigmas) / len(sigmas)
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    size = (_fft_size(height + 2 * radius), _fft_size(width + 2 * radius))
    spectrum = torch.fft.rfft2(padded, s=size)
    response = sum(
        _kernel_spectrum(s, size[0], x.device)[:, None] * _kernel_spectrum(s, size[1], x.device)[: size[1] // 2 + 1]
        for s in sigmas
    ) / len(sigmas)
    out = torch.fft.irfft2(spectrum * response.to(spectrum.real.dtype), s=size)
    return out[..., radius : radius + height, radius : radius + width].contiguous()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) with reflected borders."""
    if sigma <= 0:
        return x
    return _blur_mean(x, (sigma,))


def cascade_smooth(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """Mean of Gaussian blurs at sigma/2, sigma and 2*sigma.

    Softens the pixel noise of the raw gradient while keeping a mix of scales, so
    patterns grow smoothly without washing out colour.
    """
    if sigma <= 0:
        return grad
    return _blur_mean(grad, (0.5 * sigma, sigma, 2.0 * sigma))


_LAP_K = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _lap_down(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = _LAP_K.to(x.device, x.dtype).clone()  # a normal tensor even if this module was imported under inference mode
    k2 = (k[:, None] * k[None, :]).expand(c, 1, 5, 5)
    xp = F.pad(x, (2, 2, 2, 2), mode="replicate")
    return F.conv2d(xp, k2, stride=2, groups=c)


def _lap_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def lap_normalize(grad: torch.Tensor, levels: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """Laplacian-pyramid normalization (the classic notebook's ``lap_normalize``).

    The gradient is split into ``levels`` frequency bands; each band is divided by its
    own root-mean-square, then the bands are summed again. Low frequencies get as
    much say as high ones, which tames the high-frequency noise of raw pixel ascent.
    """
    bands = []
    current = grad
    for _ in range(levels - 1):
        if min(current.shape[-2:]) < 4:
            break
        low = _lap_down(current)
        bands.append(current - _lap_up(low, current.shape[-2:]))
        current = low
    bands.append(current)
    out = None
    for band in reversed(bands):
        band = band / band.square().mean().sqrt().clamp_min(eps)
        out = band if out is None else _lap_up(out, band.shape[-2:]) + band
    return out


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (B, C, H, W) to ``size`` = (H, W); antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


# ITU-R BT.601 luma weights: the Y of YCbCr.
_LUMA = (0.299, 0.587, 0.114)


def keep_colors(dream: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The dream's luminance with the photo's chroma (neural-dream's ``original_colors``).

    Both are (B, 3, H, W) RGB in [0, 1]; in YCbCr, the result's Y is the dream's and its
    Cb, Cr are the photo's, so the dream's patterns keep the photo's colours.
    """
    luma = torch.tensor(_LUMA, device=dream.device, dtype=dream.dtype).view(1, 3, 1, 1)
    y_dream = (dream * luma).sum(1, keepdim=True)
    y_photo = (photo * luma).sum(1, keepdim=True)
    return (photo + (y_dream - y_photo)).clamp(0, 1)  # RGB = Y + (RGB - Y) of the photo
