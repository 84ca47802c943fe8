"""Hosting DL101 Visual Lab: replicas behind nginx (``python -m deploy.replicas N``), Kubernetes manifests."""
