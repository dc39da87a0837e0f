"""The picture of query results: one row per query, the query (an image or the concept's name) left, its
top results right, each framed by a colour for its similarity to the query (green 1, red 0, colour map
RdYlGn as in demo_report.py's retrieval picture), with its class name and similarity below.
"""

import numpy as np

TILE = 72      # pixels of a tile's picture (pictures are resized to fit, aspect kept)
BORDER = 4     # frame width in pixels


def _tile(picture, size=TILE):
    """A (size, size, 3) float RGB tile of a picture (uint8/float array or None: grey), centred."""
    tile = np.full((size, size, 3), 0.85, dtype=np.float32)
    if picture is None:
        return tile
    import PIL.Image

    picture = np.asarray(picture)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    img = PIL.Image.fromarray(picture.astype(np.uint8))
    scale = size / max(img.size)
    new_size = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
    img = img.resize(new_size, PIL.Image.NEAREST if scale >= 2 else PIL.Image.BILINEAR)
    pixels = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    y0, x0 = (size - pixels.shape[0]) // 2, (size - pixels.shape[1]) // 2
    tile[y0:y0 + pixels.shape[0], x0:x0 + pixels.shape[1]] = pixels
    return tile


def draw_results_grid(path, queries, results, title=None):
    """Write the result picture to the PNG file `path` (atomically).

    queries - per query: dict(picture=array or None, caption=str).
    results - per query: list of dict(picture=array or None, caption=str, frame=similarity in [0, 1] or None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors

    import utils

    if not queries:
        raise ValueError("no queries to draw")
    cmap, norm = plt.get_cmap("RdYlGn"), colors.Normalize(0, 1)
    cols = 1 + max(len(r) for r in results)
    cell_w, cell_h = TILE + 2 * BORDER + 8, TILE + 2 * BORDER + 26
    gap = 16
    canvas = np.ones((len(queries) * cell_h, cols * cell_w + gap, 3), dtype=np.float32)
    texts = []
    for q, (query, row) in enumerate(zip(queries, results)):
        y = q * cell_h
        canvas[y + BORDER:y + BORDER + TILE, BORDER:BORDER + TILE] = _tile(query.get("picture"))
        texts.append((BORDER, y + TILE + 2 * BORDER, query.get("caption", ""), "bold"))
        for c, result in enumerate(row):
            x = gap + (c + 1) * cell_w
            frame = result.get("frame")
            color = cmap(norm(frame))[:3] if frame is not None and np.isfinite(frame) else (1.0, 1.0, 1.0)
            canvas[y:y + TILE + 2 * BORDER, x:x + TILE + 2 * BORDER] = color
            canvas[y + BORDER:y + BORDER + TILE, x + BORDER:x + BORDER + TILE] = _tile(result.get("picture"))
            texts.append((x, y + TILE + 2 * BORDER, result.get("caption", ""), "normal"))
    fig, ax = plt.subplots(figsize=(canvas.shape[1] / 60.0 + 1.2, canvas.shape[0] / 60.0 + 0.6))
    ax.imshow(canvas, interpolation="nearest")
    ax.set_axis_off()
    for x, y, text, weight in texts:
        ax.text(x, y + 1, text, ha="left", va="top", fontsize=5, fontweight=weight, clip_on=False)
    ax.set_title(title or "Query (left) and its top results; frame colour = similarity to the query", fontsize=7)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.5, pad=0.02, label="similarity")
    with utils.atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
