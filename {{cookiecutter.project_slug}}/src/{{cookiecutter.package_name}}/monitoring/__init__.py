"""Drift monitoring: compare batches of data with the reference profile of a model version."""
