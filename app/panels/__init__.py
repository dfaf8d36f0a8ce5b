"""The window's panels: the forward process and the reverse chain."""
