# The model server's targets (baked with serving=fastapi).
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT  # recipes quote them as "$$HOST" (see the Makefile's export)
.PHONY: serve

# DEPLOY_ENV (exported by the Makefile) reaches the server: it follows that environment.
# exec: the shell becomes the server, so the SIGTERM make passes on to its recipe (a
# container's or a supervisor's stop) reaches it; a shell would die and leave it serving.
serve: | $(VENV)/bin/python ## Serve DEPLOY_ENV's model (default production) over HTTP on $(HOST):$(PORT)
	export SERVE_HOST="$$HOST" SERVE_PORT="$$PORT"; exec python -m $(PACKAGE) serve

# The image of Dockerfile, tagged with the commit (-dirty with uncommitted changes; latest
# outside git). BASE_IMAGE replaces the base, e.g. with a mirror in your own registry.
# The builder: CONTAINER_TOOL if set, else docker when its daemon answers, else podman (a
# docker client without a daemon cannot build). Podman keeps the HEALTHCHECK only in
# Docker's image format.
export IMAGE BASE_IMAGE CONTAINER_TOOL
.PHONY: sbom-attach
sbom-attach: | $(VENV)/bin/python ## Push reports/sbom.cdx.json beside IMAGE=registry/name:tag as its OCI referrer
	python -m $(PACKAGE) sbom-attach -- "$$IMAGE"

.PHONY: image
image: ## Build the server's container image with docker or podman (IMAGE=name:tag)
	@builder=$$CONTAINER_TOOL; \
	if [ -z "$$builder" ]; then \
	  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker; \
	  elif command -v podman >/dev/null; then builder=podman; \
	  elif command -v docker >/dev/null; then builder=docker; \
	  else echo "ERROR: neither docker nor podman is on PATH - install one of them to build the image" >&2; \
	    exit 1; fi; \
	fi; \
	commit=$$(git rev-parse --short HEAD 2>/dev/null) || commit=latest; \
	if [ "$$commit" != latest ] && ! git diff --quiet HEAD 2>/dev/null; then commit=$$commit-dirty; fi; \
	image=$${IMAGE:-{{ cookiecutter.project_slug }}:$$commit}; \
	set -- --tag "$$image"; \
	case "$$builder" in *podman) set -- "$$@" --format docker;; esac; \
	if [ -n "$$BASE_IMAGE" ]; then set -- "$$@" --build-arg "BASE_IMAGE=$$BASE_IMAGE"; fi; \
	echo "$$builder build $$* ."; \
	"$$builder" build "$$@" . && echo "built $$image"
