"""The extension's size limits, and how this server stays inside them.

SEP-2640 (stable page): servers SHOULD NOT exceed 512 files or 16 MiB per skill,
``SKILL.md`` included, and hosts MUST accept skills up to that. ``SKILL.md`` is rendered
from the snippet (its body is capped by ``save_snippet``), so the supporting files get
the rest minus a reserve for it: a body edit can then never push a skill over.
"""

from __future__ import annotations

MAX_FILES = 512
"""Files per skill, ``SKILL.md`` included."""
MAX_SKILL_BYTES = 16 * 1024 * 1024
"""Bytes per skill, ``SKILL.md`` included."""
SKILL_MD_RESERVE = 512 * 1024
"""Room kept for ``SKILL.md``: a 100,000-character body is at most 400 KB of UTF-8, plus front matter."""
MAX_SUPPORTING_FILES = MAX_FILES - 1
MAX_SUPPORTING_BYTES = MAX_SKILL_BYTES - SKILL_MD_RESERVE
MAX_FILE_BYTES = 2 * 1024 * 1024
"""One file per call: its base64 form must fit the MCP endpoint's 4 MiB request body."""
