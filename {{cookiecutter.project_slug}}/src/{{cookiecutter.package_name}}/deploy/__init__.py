"""Publish, promote and roll back model versions: the registry, the bundle and its checks."""
