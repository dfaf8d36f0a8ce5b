"""The diffusion maths: schedules, q, the posterior, parameterisations, samplers, the variational bound."""
