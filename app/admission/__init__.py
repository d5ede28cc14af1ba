"""The AdmissionReview protocol: decoding a review, decisions and the answer that carries them,
JSON Patch, the validating adapter that turns any resource's rules into answers, and the ASGI
endpoint that always answers with a review.

Knows nothing of Kargo. May import only `app.k8s`.
"""
