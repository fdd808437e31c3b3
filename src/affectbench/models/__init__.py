"""Models shipped with affectbench (``default:<name>``); built by scripts/build_default_models.py."""
