"""Simulated Kubernetes cluster (work in progress; the full API description follows)."""
