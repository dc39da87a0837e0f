"""Data augmentation on numpy arrays: vectorized per batch for in-memory datasets, per image for files.

Random numbers come from a `numpy.random.Generator` passed in by the caller, so that every batch of
a sequence is reproducible and worker processes do not repeat each other's augmentations.
"""

import numpy as np

FILL_MODES = ("nearest", "reflect")


def as_generator(rng=None):
    """A `numpy.random.Generator`; `None` draws a seed from numpy's global state (so `np.random.seed` works)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(rng)


def _fill_indices(index, size, fill_mode):
    """Map integer pixel indices outside [0, size) back into the image as scipy.ndimage's modes do."""
    if fill_mode == "nearest":
        return np.clip(index, 0, size - 1)
    if fill_mode == "reflect":  # half-sample symmetric: d c b a | a b c d | d c b a
        period = 2 * size
        index = np.mod(index, period)
        return np.where(index >= size, period - 1 - index, index)
    raise ValueError("fill_mode must be one of {}, got {!r}".format(FILL_MODES, fill_mode))


def _interpolate_rows(images, coords, fill_mode):
    """Linear interpolation of a batch along axis 1 at per-image coordinates.

    images: (B, H, R) with each row of R values contiguous; coords: (B, L) source row coordinates.
    Returns float32 (B, L, R). Working on whole rows keeps numpy's inner loops long.
    """
    lower = np.floor(coords)
    weight = (coords - lower).astype(np.float32)[:, :, None]
    lower = lower.astype(np.intp)
    size = images.shape[1]
    batch = np.arange(images.shape[0])[:, None]
    out = images[batch, _fill_indices(lower, size, fill_mode)].astype(np.float32, copy=False)
    if not weight.any():  # whole-pixel shifts (crop-and-pad augmentation): nothing to interpolate
        return out
    upper = images[batch, _fill_indices(lower + 1, size, fill_mode)].astype(np.float32, copy=False)
    upper -= out
    upper *= weight
    out += upper
    return out


def shift_zoom_flip(images, shift_y, shift_x, zoom_y=None, zoom_x=None, flip=None, fill_mode="nearest"):
    """Shift, zoom and horizontally flip a batch of images, each by its own parameters.

    Output pixel (i, j) of image k samples the input at
    `(zoom_y[k] * (i - cy) + cy + shift_y[k], zoom_x[k] * (j - cx) + cx + shift_x[k])` with bilinear
    interpolation, where (cy, cx) is the image centre; this is what Keras' `ImageDataGenerator` does for
    `width/height_shift_range` and `zoom_range`. Because the transform has no rotation or shear it is
    separable: one interpolation over rows, then one over columns, each for the whole batch at once.
    Pixels sampled outside the image are filled according to `fill_mode` ('nearest' or 'reflect').
    Images flagged in `flip` are mirrored left-right afterwards.

    images: (B, H, W, C) array; returns float32 (B, H, W, C).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError("expected a batch of images (B, H, W, C), got shape {}".format(images.shape))
    num, height, width, channels = images.shape
    if num == 0:
        return images.astype(np.float32)
    zoom_y = np.ones(num) if zoom_y is None else np.asarray(zoom_y, dtype=np.float64)
    zoom_x = np.ones(num) if zoom_x is None else np.asarray(zoom_x, dtype=np.float64)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    rows = zoom_y[:, None] * (np.arange(height) - cy)[None, :] + cy + np.asarray(shift_y, dtype=np.float64)[:, None]
    cols = zoom_x[:, None] * (np.arange(width) - cx)[None, :] + cx + np.asarray(shift_x, dtype=np.float64)[:, None]
    if flip is not None:
        flip = np.asarray(flip, dtype=bool)
        cols[flip] = cols[flip, ::-1]
    out = _interpolate_rows(images.reshape(num, height, width * channels), rows, fill_mode)
    # columns: interpolate the transposed batch (B, W, H*C) along its rows, then transpose back
    out = np.ascontiguousarray(out.reshape(num, height, width, channels).transpose(0, 2, 1, 3))
    out = _interpolate_rows(out.reshape(num, width, height * channels), cols, fill_mode)
    return np.ascontiguousarray(out.reshape(num, width, height, channels).transpose(0, 2, 1, 3))


def _shift_range_pixels(shift_range, size, num, rng):
    """Random shifts in pixels as Keras draws them: a fraction of `size` if < 1, else pixels (ints: whole pixels)."""
    if isinstance(shift_range, (int, np.integer)) and shift_range >= 1:
        return rng.integers(-shift_range, shift_range + 1, size=num).astype(np.float64)
    shift_range = float(shift_range)
    if shift_range < 1:
        return rng.uniform(-shift_range, shift_range, size=num) * size
    return rng.uniform(-shift_range, shift_range, size=num)


def zoom_bounds(zoom_range):
    """(low, high) from a Keras-style `zoom_range`: a float z means [1 - z, 1 + z]."""
    if np.isscalar(zoom_range):
        return 1.0 - float(zoom_range), 1.0 + float(zoom_range)
    if len(zoom_range) != 2:
        raise ValueError("zoom_range must be a float or a pair (low, high), got {!r}".format(zoom_range))
    return float(zoom_range[0]), float(zoom_range[1])


def random_shift_zoom_flip(
    images,
    rng,
    width_shift_range=0.0,
    height_shift_range=0.0,
    zoom_range=0.0,
    horizontal_flip=False,
    vertical_flip=False,
    fill_mode="nearest",
):
    """Random affine augmentation of a whole batch with Keras `ImageDataGenerator` semantics."""
    images = np.asarray(images, dtype=np.float32)
    num, height, width = images.shape[:3]
    shift_y = _shift_range_pixels(height_shift_range, height, num, rng) if height_shift_range else np.zeros(num)
    shift_x = _shift_range_pixels(width_shift_range, width, num, rng) if width_shift_range else np.zeros(num)
    low, high = zoom_bounds(zoom_range)
    if (low, high) != (1.0, 1.0):
        zoom_y, zoom_x = rng.uniform(low, high, size=num), rng.uniform(low, high, size=num)
    else:
        zoom_y = zoom_x = None
    flip = rng.random(num) < 0.5 if horizontal_flip else None
    if zoom_y is None and not np.any(shift_y) and not np.any(shift_x):
        out = images.copy()
        if flip is not None:
            out[flip] = out[flip, :, ::-1]
    else:
        out = shift_zoom_flip(images, shift_y, shift_x, zoom_y, zoom_x, flip, fill_mode)
    if vertical_flip:
        vflip = rng.random(num) < 0.5
        out[vflip] = out[vflip, ::-1]
    return out


def _whole_pixels(shift_range):
    """No shift (0 or 0.0) or shifts by up to an integer number of pixels (an int >= 1)."""
    if isinstance(shift_range, bool):
        return False
    return shift_range == 0 or (isinstance(shift_range, (int, np.integer)) and shift_range >= 1)


def is_whole_pixel(width_shift_range=0.0, height_shift_range=0.0, zoom_range=0.0, **_):
    """True if an augmentation shifts by whole pixels only (integer ranges, no zoom): a crop of the
    padded image, which `random_whole_pixel_shift_flip` does on uint8 images before normalization."""
    return (_whole_pixels(width_shift_range) and _whole_pixels(height_shift_range)
            and zoom_bounds(zoom_range) == (1.0, 1.0))


_PAD_MODES = {"nearest": "edge", "reflect": "symmetric"}


def random_whole_pixel_shift_flip(images, rng, width_shift_range=0, height_shift_range=0, zoom_range=0.0,
                                  horizontal_flip=False, vertical_flip=False, fill_mode="nearest"):
    """`random_shift_zoom_flip` for whole-pixel shift ranges: the same random draws and the same result,
    in the images' own dtype, by cropping each image from the padded batch (no interpolation needed)."""
    if not is_whole_pixel(width_shift_range, height_shift_range, zoom_range):
        raise ValueError("whole-pixel shifts need integer shift ranges and no zoom")
    images = np.asarray(images)
    num, height, width = images.shape[:3]
    shift_y = _shift_range_pixels(height_shift_range, height, num, rng) if height_shift_range else np.zeros(num)
    shift_x = _shift_range_pixels(width_shift_range, width, num, rng) if width_shift_range else np.zeros(num)
    flip = rng.random(num) < 0.5 if horizontal_flip else np.zeros(num, bool)
    pad_y, pad_x = int(height_shift_range), int(width_shift_range)
    if pad_y < height and pad_x < width:
        padded = np.pad(images, ((0, 0), (pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode=_PAD_MODES[fill_mode])
        out = np.empty_like(images)
        for k, (dy, dx) in enumerate(zip(shift_y.astype(np.intp) + pad_y, shift_x.astype(np.intp) + pad_x)):
            crop = padded[k, dy : dy + height, dx : dx + width]
            out[k] = crop[:, ::-1] if flip[k] else crop
    else:  # shifts beyond the image: index maps (as random_shift_zoom_flip samples them)
        rows = _fill_indices(np.arange(height) + shift_y[:, None].astype(np.intp), height, fill_mode)
        cols = _fill_indices(np.arange(width) + shift_x[:, None].astype(np.intp), width, fill_mode)
        cols[flip] = cols[flip, ::-1]
        out = images[np.arange(num)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if vertical_flip:
        vflip = rng.random(num) < 0.5
        out[vflip] = out[vflip, ::-1]
    return out


# ---------------------------------------------------------------------------
# Per-image augmentation for file datasets
# ---------------------------------------------------------------------------


def random_erase(img, rng, mean, std, sl=0.02, sh=0.4, r1=0.3, r2=1.0 / 0.3, max_attempts=100):
    """Random erasing (Zhong et al., 2017) of a normalized HxWxC image in place, with uniform noise.

    The erased area is between `sl` and `sh` of the image, its aspect ratio between `r1` and `r2`;
    the noise is uniform in [0, 255] before normalization by `mean` and `std`.
    """
    height, width = img.shape[:2]
    for _ in range(max_attempts):
        area = rng.uniform(sl, sh) * height * width
        aspect = rng.uniform(r1, r2)
        he, we = int(np.sqrt(area * aspect)), int(np.sqrt(area / aspect))
        if 0 < he < height and 0 < we < width:
            break
    else:
        return img
    ye, xe = rng.integers(0, height - he), rng.integers(0, width - we)
    noise = rng.uniform(0.0, 255.0, (he, we, img.shape[-1])).astype(np.float32)
    img[ye : ye + he, xe : xe + we, :] = (noise - mean) / std
    return img


def rgb_to_hsv(rgb):
    """RGB in [0, 1] -> HSV in [0, 1] (same convention as matplotlib.colors.rgb_to_hsv), float32."""
    rgb = np.asarray(rgb, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc = rgb.max(axis=-1)
    minc = rgb.min(axis=-1)
    delta = maxc - minc
    safe_delta = np.where(delta > 0, delta, 1.0)
    hue = np.where(
        maxc == r,
        (g - b) / safe_delta,
        np.where(maxc == g, 2.0 + (b - r) / safe_delta, 4.0 + (r - g) / safe_delta),
    )
    hue = np.where(delta > 0, (hue / 6.0) % 1.0, 0.0)
    sat = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1.0), 0.0)
    return np.stack([hue, sat, maxc], axis=-1).astype(np.float32)


def hsv_to_rgb(hsv):
    """HSV in [0, 1] -> RGB in [0, 1], the inverse of `rgb_to_hsv`, float32."""
    hsv = np.asarray(hsv, dtype=np.float32)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sector = np.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.astype(np.int64) % 6
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    choices_r = [v, q, p, p, t, v]
    choices_g = [t, v, v, q, p, p]
    choices_b = [p, p, t, v, v, q]
    r = np.choose(sector, choices_r)
    g = np.choose(sector, choices_g)
    b = np.choose(sector, choices_b)
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def distort_color(
    img,
    rng,
    fast_mode=True,
    brightness_delta=32.0 / 255.0,
    hue_delta=0.2,
    saturation_range=(0.5, 1.5),
    contrast_range=(0.5, 1.5),
):
    """Random colour distortion of an RGB image with values in [0, 255] (as the original `distort_color`).

    Fast mode: brightness (on V) and saturation in HSV space, in random order. Otherwise also hue and
    contrast, in one of four random orders (the Inception preprocessing recipe).
    Returns a float32 image in [0, 255].
    """
    img = np.asarray(img, dtype=np.float32) / 255.0

    def brightness_hsv(x):
        x[..., 2] = np.clip(x[..., 2] + rng.uniform(-brightness_delta, brightness_delta), 0.0, 1.0)
        return x

    def brightness_rgb(x):
        return np.clip(x + rng.uniform(-brightness_delta, brightness_delta), 0.0, 1.0)

    def saturation(x):
        x[..., 1] = np.clip(x[..., 1] * rng.uniform(*saturation_range), 0.0, 1.0)
        return x

    def hue(x):
        x[..., 0] = (x[..., 0] + rng.uniform(-hue_delta, hue_delta)) % 1.0
        return x

    def contrast(x):
        mean = x.mean(axis=(0, 1), keepdims=True)
        return np.clip((x - mean) * rng.uniform(*contrast_range, size=mean.shape) + mean, 0.0, 1.0)

    identity = lambda x: x  # noqa: E731
    if brightness_delta <= 0:
        brightness_hsv = brightness_rgb = identity
    if tuple(saturation_range) == (1, 1) or saturation_range[0] > saturation_range[1]:
        saturation = identity
    if hue_delta <= 0:
        hue = identity
    if tuple(contrast_range) == (1, 1) or contrast_range[0] > contrast_range[1]:
        contrast = identity

    if fast_mode:
        if rng.integers(2) == 0:
            img = hsv_to_rgb(saturation(brightness_hsv(rgb_to_hsv(img))))
        else:
            img = hsv_to_rgb(brightness_hsv(saturation(rgb_to_hsv(img))))
    else:
        order = rng.integers(4)
        if order == 0:
            img = contrast(hsv_to_rgb(hue(saturation(rgb_to_hsv(brightness_rgb(img))))))
        elif order == 1:
            img = hsv_to_rgb(hue(rgb_to_hsv(contrast(brightness_rgb(hsv_to_rgb(saturation(rgb_to_hsv(img))))))))
        elif order == 2:
            img = hsv_to_rgb(saturation(brightness_hsv(hue(rgb_to_hsv(contrast(img))))))
        else:
            img = brightness_rgb(contrast(hsv_to_rgb(saturation(hue(rgb_to_hsv(img))))))
    return img * 255.0
