"""vecgrad's nn: feedforward networks assembled from the autograd engine's primitives."""
