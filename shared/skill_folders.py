"""The skills folder (``~/.claude/skills``) and the manifest of the skill folders we made there.

Other tools and people keep their own skills in the same folder, so ``sync-skills`` only
ever changes or removes a folder listed in its manifest, ``.shared-skills-manifest.json``:
for each folder, the server and snippet it came from and the hash of the ``SKILL.md`` it
wrote. Files are replaced atomically; the manifest is saved after every change, so an
interrupted run leaves no folder that a later run would mistake for someone else's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = ".shared-skills-manifest.json"
SKILL_FILE = "SKILL.md"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Entry:
    """A folder sync-skills created: where its skill came from and what it wrote."""

    server: str
    snippet_id: str
    workspace_id: str
    source_key: str
    sha256: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SkillsFolder:
    """The destination folder, its manifest, and the only operations sync-skills performs in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / MANIFEST
        self.entries: dict[str, Entry] = self._load()

    def _load(self) -> dict[str, Entry]:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read {self.manifest_path}: {error}") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{self.manifest_path} is not a sync-skills manifest this version understands")
        return {name: Entry(**entry) for name, entry in data.get("skills", {}).items()}

    def save(self) -> None:
        skills = {name: asdict(self.entries[name]) for name in sorted(self.entries)}
        data = {"format": MANIFEST_FORMAT, "skills": skills}
        _write_atomically(self.manifest_path, (json.dumps(data, indent=2) + "\n").encode())

    def skill_file(self, name: str) -> Path:
        return self.root / name / SKILL_FILE

    def current_hash(self, name: str) -> str | None:
        """The hash of the ``SKILL.md`` on disk now, or None when there is none."""
        try:
            return sha256(self.skill_file(name).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def occupied(self, name: str) -> bool:
        """Whether anything at all has this name in the folder."""
        return (self.root / name).exists() or (self.root / name).is_symlink()

    def write(self, name: str, entry: Entry, content: bytes) -> None:
        """Create or replace the skill folder ``name`` (only for one of ours, or a free name)."""
        self.entries[name] = entry
        self.save()
        (self.root / name).mkdir(parents=True, exist_ok=True)
        _write_atomically(self.skill_file(name), content)

    def remove(self, name: str) -> bool:
        """Remove a folder we created: our ``SKILL.md``, then the folder if nothing else is in it.

        Returns False when the folder holds files someone else put there (it then stays).
        """
        folder = self.root / name
        self.skill_file(name).unlink(missing_ok=True)
        kept = False
        if folder.is_dir() and not folder.is_symlink():
            try:
                folder.rmdir()
            except OSError:
                kept = True
        del self.entries[name]
        self.save()
        return not kept


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
