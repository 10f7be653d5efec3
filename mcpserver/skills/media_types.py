"""The media type of a supporting file: the table of :mod:`shared.skill_rules.media_types`."""

from shared.skill_rules.media_types import BY_SUFFIX, DIRECTORY, TEXT_APPLICATION_TYPES, is_text_type, media_type_for

__all__ = ["BY_SUFFIX", "DIRECTORY", "TEXT_APPLICATION_TYPES", "is_text_type", "media_type_for"]
