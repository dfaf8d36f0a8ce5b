"""diffusion-viz's window and command line."""
