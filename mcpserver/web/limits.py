"""How large a request to the library may be, and the form parser's limits that follow from it.

One limit decides: the whole body (``MAX_BODY_BYTES``, 413 beyond). No single field is held
to less, so the largest file typed into the skill-files page (``MAX_FILE_BYTES``, sent with
CRLF line ends: up to twice that) or the longest snippet body (``snippet_max_body`` is at most
100,000 characters, at most 12 bytes each once percent-encoded) always reaches the page, which
then names the real limit, the same as for an upload. Starlette's own default of 1 MiB per
field would have refused both with a message about kilobytes.
"""

from __future__ import annotations

from shared.skill_rules.limits import MAX_FILE_BYTES

MAX_BODY_BYTES = 2 * MAX_FILE_BYTES + 256 * 1024
"""Largest request body: a supporting file typed with CRLF line ends (or uploaded), with the form around it."""
MAX_PART_BYTES = MAX_BODY_BYTES
"""Largest single field or file in a form: whatever the body allows."""
MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 1
"""No form has more than one file input (the skill-files page's upload)."""
