"""What the request bodies of more than one backend share: the image model's
parameters, and the hashed user id the provider may see."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.images.types import ImageParams


def safety_identifier(user_id: str | None) -> str | None:
    """A stable hash of our user id: the provider can tell abusers apart, never who they are."""
    if not user_id:
        return None
    return hashlib.sha256(f"redraw:{user_id}".encode()).hexdigest()


def image_fields(params: ImageParams) -> dict[str, Any]:
    """The image model's parameters as both ``/images`` and the ``/responses`` tool take
    them; only those set (validation already refused what the model does not accept)."""
    fields: dict[str, Any] = {
        "size": params.size,
        "quality": params.quality,
        "output_format": params.output_format,
        "moderation": params.moderation,
    }
    if params.output_compression is not None:
        fields["output_compression"] = params.output_compression
    if params.background is not None:
        fields["background"] = params.background
    return fields
