"""Several authorities at once: manifest, cross-border linkage, regional store and outputs (docs/SCALE.md)."""
