"""Prefect flows, one module per flow, and the `upscway` CLI that starts them."""
