"""Contact sheet: one row per frame (bird's-eye view first, then the cameras), thumbnails with captions."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from engine.render.draw import label
from kernels.errors import InvalidInputError

__all__ = ["contact_sheet"]


def _thumb(image: Image.Image, height: int) -> Image.Image:
    w = max(1, round(image.width * height / image.height))
    return image.resize((w, height), Image.Resampling.BILINEAR)


def contact_sheet(
    rows: Sequence[Sequence[tuple[str, Image.Image]]], thumb_height: int = 240, gap: int = 4
) -> Image.Image:
    """Tile pictures into one image, row by row, each resized to ``thumb_height`` and captioned.

    Parameters
    ----------
    rows : sequence of sequence of (str, PIL.Image.Image)
        Captioned pictures per row (e.g. one row per frame).
    thumb_height : int
        Height of every thumbnail [px].
    gap : int
        Space between thumbnails [px].

    Returns
    -------
    PIL.Image.Image
        RGB sheet.
    """
    if thumb_height < 16:
        raise InvalidInputError(f"thumb_height must be >= 16 px, got {thumb_height}")
    thumbs = [[(cap, _thumb(im, thumb_height)) for cap, im in row] for row in rows if row]
    if not thumbs:
        raise InvalidInputError("contact_sheet needs at least one picture")
    width = max(sum(t.width for _, t in row) + gap * (len(row) + 1) for row in thumbs)
    height = len(thumbs) * (thumb_height + gap) + gap
    sheet = Image.new("RGB", (width, height), (30, 30, 34))
    draw = ImageDraw.Draw(sheet)
    y = gap
    for row in thumbs:
        x = gap
        for caption, t in row:
            sheet.paste(t, (x, y))
            label(draw, (x + 4.0, y + thumb_height - 18.0), caption, (235, 235, 235), 12)
            x += t.width + gap
        y += thumb_height + gap
    return sheet
