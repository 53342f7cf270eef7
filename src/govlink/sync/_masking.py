"""Masking personal data in free text (platform messages, errors, operator notes, logs).

Structured fields are masked where they are built (``govlink.domain.mask_personal``); this
catches what arrives as free text: resident ID numbers (18 characters), mobile phone numbers and
unified social credit codes are reduced to their first and last few characters.
"""

from __future__ import annotations

import re

from ..domain import mask_personal

__all__ = ["mask_text"]

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_text(text: str) -> str:
    """``text`` with ID numbers (``3705**********123X``) and phones (``138****5678``) masked."""
    text = _ID_NUMBER.sub(lambda m: mask_personal(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_personal(m.group(0), keep_start=3, keep_end=4), text)
