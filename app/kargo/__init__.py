"""Kargo's rules, as plain functions over decoded objects that return field errors and warnings:
ProjectConfig validation, stage-name patterns (doublestar globs, Go regexps), and the
rollback-annotation rule with the controller's identity (`identity`).

Knows nothing of admission or HTTP. May import only `app.k8s`.
"""
