"""The AdmissionReview protocol: decoding a review, decisions and the answer that carries them,
JSON Patch, and the ASGI endpoint that always answers with a review.

Knows nothing of Kargo. May import only `app.k8s`.
"""
