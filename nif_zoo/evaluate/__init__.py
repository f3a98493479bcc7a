"""Evaluation: metrics, image grids and plots."""
