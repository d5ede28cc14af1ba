"""The commands beside `serve`: `check` (manifests with the webhook's rules), `policy` (the
ValidatingAdmissionPolicy) and `certs` (generate and inspect certificates).

Wiring, like `app.cli`: may import any layer below it (`app.config`, `app.webhooks`,
`app.kargo`, `app.admission`, `app.k8s`, `app.tls`).
"""
