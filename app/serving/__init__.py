"""Serving over HTTP: connection limits, overload and shutdown, over the TLS context of `app.tls`.

Transport only: it knows HTTP, TLS and uvicorn, and nothing of configuration, admission or
Kargo. May import only `app.tls`. Every contact with uvicorn's and httptools' internals is in
`app.serving.uvicorn_seam`, guarded by tests/serving/uvicorn_seam/test_uvicorn_contract.py.
"""
