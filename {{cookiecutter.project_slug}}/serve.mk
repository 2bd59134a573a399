# The model server's targets (baked with serving=fastapi).
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT  # recipes quote them as "$$HOST" (see the Makefile's export)
.PHONY: serve

# DEPLOY_ENV (exported by the Makefile) reaches the server: it follows that environment.
serve: | $(VENV)/bin/python ## Serve DEPLOY_ENV's model (default production) over HTTP on $(HOST):$(PORT)
	SERVE_HOST="$$HOST" SERVE_PORT="$$PORT" python -m $(PACKAGE) serve
