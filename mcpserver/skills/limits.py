"""The extension's size limits (:mod:`shared.skill_rules.limits`), looked up here by the server.

The server reads them as attributes of this module at call time, so tests can lower them here.
"""

from shared.skill_rules.limits import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_SKILL_BYTES,
    MAX_SUPPORTING_BYTES,
    MAX_SUPPORTING_FILES,
    SKILL_MD_RESERVE,
)

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_SKILL_BYTES",
    "MAX_SUPPORTING_BYTES",
    "MAX_SUPPORTING_FILES",
    "SKILL_MD_RESERVE",
]
