"""checkov checks of our own (checkov loads a folder of checks only when it holds an __init__.py)."""
