"""Tool results: structured content for programs, a readable text block for the model.

The SDK would put the JSON of the structured content into the text block; a short
sentence or list reads better, and the full data is in ``structuredContent`` anyway.
Tools annotate their return as ``Annotated[CallToolResult, Model]`` so that the output
schema is published and the structured content is validated against it.
"""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel


def answer(data: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data.model_dump(mode="json"),
    )
