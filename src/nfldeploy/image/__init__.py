"""Build contexts, Docker SDK builds, tags, pushes and registry auth. The only package that imports docker."""
