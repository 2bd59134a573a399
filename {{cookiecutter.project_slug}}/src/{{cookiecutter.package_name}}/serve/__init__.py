"""The REST server: FastAPI routes over a hot-swappable model and a micro-batcher."""
