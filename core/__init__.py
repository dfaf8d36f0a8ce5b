"""diffusion-viz core: the diffusion maths and the model, free of any GUI toolkit."""

__version__ = "0.1.0"
