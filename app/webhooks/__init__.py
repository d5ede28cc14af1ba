"""One module per resource that turns Kargo's rule results into admission decisions (allow,
strip, restore, deny with a `Status`, audit annotations).

Takes plain arguments, never `Settings`. May import `app.admission`, `app.kargo` and `app.k8s`.
"""
