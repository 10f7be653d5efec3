"""Keep the cyclic garbage collector's full passes off the request path: freeze what startup built.

Under the benchmark's load (16 connections, one worker) the MCP worker ran a full
(generation 2) collection about once a second, 60-120 ms each: a full pass walks every
container object, and the modules, schemas, compiled statements and app that startup
builds are most of them. Requests in flight outlive the young collections, so they are
promoted and soon trigger the next full pass. Those pauses were the p99 of every call
(78 ms against a p50 of 18 ms for ``list_snippets``).

:func:`freeze_startup_objects` moves everything alive once the app is built into the
permanent generation, which collections skip (:func:`gc.freeze`): full passes then took
about 4 ms, p99 40 ms, and 12-15 % more calls per second (bench/README.md). The frozen
objects live as long as the process anyway; reference counting still frees them, only a
cycle among them would stay. Called by the ``serve`` commands, not by the app factories,
so that tests, which build many apps in one process, do not pin each one.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect startup's garbage, then freeze what is left (call once the app is built)."""
    gc.collect()
    gc.freeze()
