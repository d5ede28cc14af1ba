"""Certificates: validating and generating serving pairs, and reloading them while serving.

Transport only. Imports nothing of `app` outside this package.
"""
