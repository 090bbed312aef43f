"""Golden paths shipped with idp-console: one directory per template (``*/template.yaml`` + skeleton)."""
