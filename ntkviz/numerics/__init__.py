"""The numerics: nets, batched gradient descent, empirical and analytic tangent kernels,
linearisation and curvature. torch and numpy only; nothing is drawn or written here."""
