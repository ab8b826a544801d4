"""The name band: the top of a copy's first page, where students write their name.

The detection model reads the name on this band only (a cheap call); grading calls get the
page with this band blanked once the name is read (exam option "masquer les noms"), so the
name does not travel with the copy to the grading providers.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

# A share of the page's height: a header with name, class and date fits in it on A4.
NAME_BAND_SHARE = 0.15
BAND_QUALITY = 80


def _band_height(image: Image.Image) -> int:
    return max(1, round(image.height * NAME_BAND_SHARE))


def band_crop(jpeg: bytes) -> bytes:
    """The band alone, as a JPEG."""
    with Image.open(io.BytesIO(jpeg)) as image:
        band = image.convert("RGB").crop((0, 0, image.width, _band_height(image)))
    buffer = io.BytesIO()
    band.save(buffer, format="JPEG", quality=BAND_QUALITY)
    return buffer.getvalue()


def band_mask(jpeg: bytes) -> bytes:
    """The page with its band painted white, as a JPEG of the same size."""
    with Image.open(io.BytesIO(jpeg)) as image:
        page = image.convert("RGB")
    ImageDraw.Draw(page).rectangle((0, 0, page.width, _band_height(page) - 1), fill="white")
    buffer = io.BytesIO()
    page.save(buffer, format="JPEG", quality=BAND_QUALITY)
    return buffer.getvalue()
