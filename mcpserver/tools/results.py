"""Tool results: structured content for programs, a readable text block for the model.

The SDK would put the JSON of the structured content into the text block; a short
sentence or list reads better, and the full data is in ``structuredContent`` anyway.
Tools annotate their return as ``Annotated[CallToolResult, Model]`` so that the output
schema is published and the structured content is validated against it.
"""

from __future__ import annotations

from typing import Any

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel


def answer(data: BaseModel | dict[str, Any], text: str) -> CallToolResult:
    """``data``: the tool's output model, or its fields already JSON-ready (pages of many rows,
    where a model per row costs more than the rest of the call; the SDK validates either)."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data.model_dump(mode="json") if isinstance(data, BaseModel) else data,
    )
