"""The gallery: every figure built at the post's settings into one folder, its index pages and
its check against a committed copy."""
