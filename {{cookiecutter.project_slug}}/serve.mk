# The model server's targets (baked with serving=fastapi).
HOST ?= 127.0.0.1
PORT ?= 8000
.PHONY: serve

serve: | $(VENV)/bin/python ## Serve the current model over HTTP on $(HOST):$(PORT)
	SERVE_HOST=$(HOST) SERVE_PORT=$(PORT) python -m $(PACKAGE) serve
