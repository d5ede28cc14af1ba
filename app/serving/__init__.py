"""Serving the application: TLS with hot reload, connection limits, overload and shutdown.

Everything here is transport: it knows HTTP, TLS and uvicorn, and nothing of admission or Kargo.
`app/server.py` wires it around the application built by `app.main.create_app`.
"""
