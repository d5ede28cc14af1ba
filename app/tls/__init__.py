"""Certificates: validating and generating serving pairs, and reloading them while serving
(`reloader`, with `served`: the reloads counted and logged, and expiry reported to readiness).

Transport only. Imports nothing of `app` outside this package.
"""
