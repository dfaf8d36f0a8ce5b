"""Models: the protocol every denoiser meets, our UNet, model folders, the diffusers import."""
