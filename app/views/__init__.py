"""Reusable views: the image view, the schedule plots, the export dialog, QImage conversion."""
