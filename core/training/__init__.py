"""Training a model, its data (emoji or a folder) and its held-out evaluation."""
