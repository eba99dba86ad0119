"""What each role may do. Every signed-in user may read; these are the actions beyond reading.

    designer   edit (save, upload, new template, submit), render (whole-video previews)
    approver   approve (approve or reject others' versions), render, audit (read the audit log)
    operator   run (start and cancel billing runs), render
    viewer     nothing beyond reading and stills
    admin      users, audit, and every other action (still never approves their own version)
"""

from __future__ import annotations

from store.users import ROLES

PERMISSIONS: dict[str, frozenset[str]] = {
    "designer": frozenset({"edit", "render"}),
    "approver": frozenset({"approve", "render", "audit"}),
    "operator": frozenset({"run", "render"}),
    "viewer": frozenset(),
    "admin": frozenset({"edit", "render", "approve", "run", "users", "audit"}),
}
assert set(PERMISSIONS) == set(ROLES)

ACTIONS = {"edit": "edit templates", "render": "render previews", "approve": "approve versions", "run": "start or cancel runs",
           "users": "manage users", "audit": "read the audit log"}


def can(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())
