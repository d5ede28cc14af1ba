"""Who may set the rollback annotation: an exact-username predicate built from settings.

Security reasoning, kept next to the code it justifies:

- Usernames are compared byte for byte with `request.userInfo.username`. The API server sets
  that field from the authenticated identity; a client cannot choose it.
- No regexes, prefixes or groups. `system:serviceaccount:evil:kargo-controller` (another
  namespace), `...:kargo-controller-evil`, a trailing newline, Kargo's own API server and
  `system:masters` are all "other users". Kargo's `CONTROLPLANE_USER_REGEX` is too broad for
  this rule: it also matches kargo-api and the garbage collector, which never create rollbacks.
- Groups are ignored on purpose: a group is granted by RBAC and cluster configuration outside
  Kargo's chart, so membership says nothing about being the rollback controller.
- An empty or missing username never matches (settings reject an empty configured name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ControllerIdentity:
    """True for exactly the configured usernames."""

    usernames: frozenset[str]

    @classmethod
    def of(cls, usernames: Iterable[str]) -> ControllerIdentity:
        names = frozenset(usernames)
        if not names or "" in names:
            raise ValueError("controller usernames must be a non-empty list of non-empty names")
        return cls(names)

    def __call__(self, username: str) -> bool:
        return username in self.usernames
