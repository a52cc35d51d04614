"""Developer tools for vecgrad's repository (not shipped with the distribution)."""
