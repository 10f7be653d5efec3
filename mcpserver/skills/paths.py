"""Paths of supporting files inside a skill: the rules of :mod:`shared.skill_rules.paths`."""

from shared.skill_rules.paths import MAX_DEPTH, MAX_PATH, InvalidPath, check, collision, parents

__all__ = ["MAX_DEPTH", "MAX_PATH", "InvalidPath", "check", "collision", "parents"]
