"""Pictures: loading images, uint8 ↔ [−1, 1], frames composed for export, GIF/PNG writing, safe file writes."""
