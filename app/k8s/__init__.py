"""Kubernetes API machinery: field paths and field errors, `Status` objects, name rules and
label-selector validation, as apimachinery has them.

Knows nothing of admission, Kargo or HTTP. Imports nothing of `app` outside this package.
"""
