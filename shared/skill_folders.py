"""The skills folder (``~/.claude/skills``) and the manifest of the skill folders we made there.

Other tools and people keep their own skills in the same folder, so ``sync-skills`` only
ever changes or removes a folder listed in its manifest, ``.shared-skills-manifest.json``:
for each folder, the server and snippet it came from and the hashes of the ``SKILL.md``
and the supporting files it wrote (``<name>/<path>``); a file it did not write is never
changed or removed, even inside one of its folders. Files are replaced atomically; the
manifest is saved after every change, so an interrupted run leaves no folder that a later
run would mistake for someone else's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shared.skill_rules import paths

MANIFEST = ".shared-skills-manifest.json"
SKILL_FILE = "SKILL.md"
MANIFEST_FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1 had no supporting files


@dataclass(frozen=True)
class Entry:
    """A folder sync-skills created: where its skill came from and what it wrote."""

    server: str
    snippet_id: str
    workspace_id: str
    source_key: str
    sha256: str
    files: dict[str, str] = field(default_factory=dict)
    """The supporting files it wrote: path to sha256."""


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
        if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
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

    def files_intact(self, name: str, entry: Entry) -> bool:
        """Whether every supporting file the entry lists is on disk with the hash it was written with."""
        return all(_hash_of(self.root / name / path) == digest for path, digest in entry.files.items())

    def write(self, name: str, entry: Entry, content: bytes, files: Mapping[str, bytes] | None = None) -> list[str]:
        """Create or replace the skill folder ``name`` (only for one of ours, or a free name).

        Writes ``SKILL.md`` and the supporting ``files``, removes the files it wrote before that
        are no longer wanted, and leaves alone any file it did not write. Returns the paths it
        skipped because something else is already there; ``entry.files`` lists what it wrote.
        """
        previous = self.entries.get(name)
        ours = dict(previous.files) if previous is not None else {}
        self.entries[name] = entry
        entry.files.clear()
        entry.files.update(ours)  # until each is rewritten or removed, so no interruption orphans one
        self.save()
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.skill_file(name), content)
        for path in sorted(set(ours) - set(files or {})):
            self._delete(name, path)
            del entry.files[path]
        skipped = []
        for path, data in sorted((files or {}).items()):
            target = folder / paths.check(path)
            if path not in ours and (target.exists() or target.is_symlink() or _blocked(folder, path)):
                skipped.append(path)
                continue
            _write_atomically(target, data)
            entry.files[path] = sha256(data)
        self.save()
        return skipped

    def remove(self, name: str) -> bool:
        """Remove a folder we created: our files, then the folder if nothing else is in it.

        Returns False when the folder holds files someone else put there (it then stays).
        """
        folder = self.root / name
        self.skill_file(name).unlink(missing_ok=True)
        for path in sorted(self.entries[name].files):
            self._delete(name, path)
        kept = False
        if folder.is_dir() and not folder.is_symlink():
            try:
                folder.rmdir()
            except OSError:
                kept = True
        del self.entries[name]
        self.save()
        return not kept

    def _delete(self, name: str, path: str) -> None:
        """Remove a supporting file we wrote, and the folders it leaves empty."""
        folder = self.root / name
        (folder / paths.check(path)).unlink(missing_ok=True)
        for parent in reversed(paths.parents(path)):
            try:
                (folder / parent).rmdir()
            except OSError:
                break


def _blocked(folder: Path, path: str) -> bool:
    """Whether a folder the path needs is a file or a link we must not write through."""
    return any((folder / p).is_symlink() or (folder / p).is_file() for p in paths.parents(path))


def _hash_of(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
