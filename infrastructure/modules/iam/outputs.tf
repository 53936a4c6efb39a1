# No outputs: the grants are leaves (standard module structure keeps the file).
