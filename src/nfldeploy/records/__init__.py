"""The records that carry one step's result to the next, each typed, with one reader and one writer:
the export manifest and its golden set (``export`` writes them; build, deploy, serve and smoke-test read
them), the build record (``build`` and ``push`` write it; deploy reads it). A record that does not match its
schema is a ConfigError naming the file and the field. Nothing here imports torch or a cloud SDK: the
serving image reads the manifest with it."""
