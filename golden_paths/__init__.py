"""golden_paths."""
