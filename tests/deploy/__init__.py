"""Deployment artefacts: the helm chart, docker-compose.yml and the Dockerfile (no cluster, no Docker)."""
