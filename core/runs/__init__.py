"""Reverse runs as the viewer and the CLI see them: a frozen spec, the chain of frames, the bounded record."""
