"""Worker threads: the inference thread that runs reverse chains off the GUI thread."""
