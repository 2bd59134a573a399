"""Reproducible training pipeline: ingest, validate, split, train, evaluate, profile."""
