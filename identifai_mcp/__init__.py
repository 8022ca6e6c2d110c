"""identifai-mcp: ask identifAI whether a video is real, from an AI assistant or a shell."""

__version__ = "0.1.0"
