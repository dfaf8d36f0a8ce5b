"""Measured answers to four questions a person asks while watching a chain (no Qt here).

- :mod:`core.analysis.spectrum`: the radially averaged power spectrum, the noise's flat spectrum at t,
  the cut-off frequency where they meet, the fitted 1/f^α slope (Dieleman 2024, "spectral autoregression").
- :mod:`core.analysis.decided`: K continuations from a frame with fresh noise, their spread, the flip
  threshold (Sclocchi et al. 2025; Biroli et al. 2024).
- :mod:`core.analysis.exposure`: x_t's statistics during a run against q(x_t | x_0), and Ning et al.
  2024's Epsilon Scaling.
- :mod:`core.analysis.ladder`: the same x_t average-pooled 2×2, 4×4, …, each copy's effective SNR and
  the log-SNR shift that matches them (Hoogeboom et al. 2023).
"""
