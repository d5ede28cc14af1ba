"""The commands beside `serve`: `check` (manifests with the webhook's rules), `policy` (the
ValidatingAdmissionPolicy) and `certs` (generate and inspect certificates).

Wiring, like `app.cli`: may import the layers below it (`app.config`, `app.kargo`, `app.k8s`,
`app.tls`), but not the webhooks or the protocol: a command applies Kargo's rules and reads
their field errors itself (a contract in pyproject.toml).
"""
