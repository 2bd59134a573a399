"""The code the pipeline stages use; dvc.yaml lists these modules as stage dependencies."""
