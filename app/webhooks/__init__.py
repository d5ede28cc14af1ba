"""One module per resource: a validating resource's rules bound for the validating adapter
(`app.admission.validating`), and the Promotion guard that turns the rollback-annotation rule
into answers (strip, restore, deny with a `Status`, audit annotations).

Takes plain arguments, never `Settings`. May import `app.admission`, `app.kargo` and `app.k8s`.
"""
