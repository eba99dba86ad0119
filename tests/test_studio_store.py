"""The studio's part of the store: users, content-addressed versions and their approval, runs, the audit log.

Each test runs on SQLite and, marked e2e, on the session's PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import datetime as dt

import pytest

from store.audit import Audit
from store.passwords import hash_password, verify_password
from store.runs import Runs
from store.store import Store
from store.users import Users
from store.versions import Versions, version_digest
from tailorcast.errors import StudioRefused

AT = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone.utc)
FILES = {"template.yaml": b"name: t\n", "page.html": b"<p>hi</p>\n"}


@pytest.fixture
def store(database_url):
    store = Store.open(database_url)
    yield store
    store.close()


def test_passwords_are_salted_scrypt_and_verify_only_the_right_one():
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", a) and not verify_password("correct horse batterz", a)
    assert not verify_password("anything", "not-a-hash") and not verify_password("x" * 5000, a)
    cheaper = hash_password("correct horse battery", n=2**8)  # the cost is in the stored text: both verify
    assert cheaper.startswith("scrypt$256$") and verify_password("correct horse battery", cheaper)


def test_users_log_in_by_name_and_password_and_a_disabled_user_cannot(store):
    users = Users(store.engine)
    ann = users.create("ann", "designer", "long enough pw", AT)
    assert users.authenticate("ann", "long enough pw") == ann
    assert users.authenticate("ann", "wrong password") is None and users.authenticate("bob", "long enough pw") is None
    users.update("ann", active=False)
    assert users.authenticate("ann", "long enough pw") is None


def test_a_password_changes_only_with_the_current_one_and_its_stamp_changes_with_it(store):
    users = Users(store.engine, password_cost=2**8)
    ann = users.create("ann", "designer", "long enough pw", AT)
    assert users.change_password("ann", "wrong password", "a new long password") is None
    assert users.change_password("bob", "long enough pw", "a new long password") is None
    with pytest.raises(StudioRefused, match="at least 10"):
        users.change_password("ann", "long enough pw", "short")
    with pytest.raises(StudioRefused, match="the current one"):
        users.change_password("ann", "long enough pw", "long enough pw")
    assert users.get(ann.id).stamp == ann.stamp  # nothing changed so far
    changed = users.change_password("ann", "long enough pw", "a new long password")
    assert changed is not None and changed.stamp != ann.stamp and len(changed.stamp) == 32
    assert users.authenticate("ann", "a new long password") == changed and users.authenticate("ann", "long enough pw") is None
    reset = users.update("ann", password="set by an admin")
    assert reset.stamp not in (ann.stamp, changed.stamp)
    users.update("ann", active=False)
    assert users.change_password("ann", "set by an admin", "another long one") is None  # a disabled user cannot


@pytest.mark.parametrize("name, role, password, message", [
    ("ann", "designer", "short", "at least 10"),
    ("ann", "boss", "long enough pw", "not a role"),
    ("Ann Smith", "designer", "long enough pw", "lower-case letters"),
])
def test_a_bad_user_is_refused_with_how_to_fix(store, name, role, password, message):
    with pytest.raises(StudioRefused, match=message):
        Users(store.engine).create(name, role, password, AT)


def test_a_user_name_is_taken_once(store):
    users = Users(store.engine)
    users.create("ann", "designer", "long enough pw", AT)
    with pytest.raises(StudioRefused, match="exists already"):
        users.create("ann", "viewer", "long enough pw", AT)


def test_a_version_is_named_by_its_files_and_the_same_files_are_the_same_version(store):
    versions = Versions(store.engine)
    first, made = versions.save("bill", FILES, "ann", AT)
    assert made and first.state == "draft" and first.author == "ann"
    again, made_again = versions.save("bill", dict(reversed(list(FILES.items()))), "bob", AT)
    assert again == first and not made_again
    second, _ = versions.save("bill", {**FILES, "page.html": b"<p>hello</p>\n"}, "ann", AT, parent_id=first.id)
    assert second.digest != first.digest and second.digest == version_digest(second.files)
    assert versions.files(first) == FILES and versions.file(second, "page.html") == b"<p>hello</p>\n"
    assert [v.id for v in versions.history("bill")] == [second.id, first.id]
    assert [v.id for v in versions.templates()] == [second.id]
    back, made_back = versions.save("bill", FILES, "ann", AT + dt.timedelta(minutes=5), parent_id=second.id)
    assert back.id == first.id and not made_back and versions.latest("bill").id == first.id  # the files saved last are current


def test_approval_a_version_under_review_locks_the_template_and_its_author_cannot_approve_it(store):
    versions = Versions(store.engine)
    v, _ = versions.save("bill", FILES, "ann", AT)
    assert versions.submit(v.id, "ann", AT).state == "review"
    with pytest.raises(StudioRefused, match="under review; it cannot be edited"):
        versions.save("bill", {**FILES, "page.html": b"changed"}, "ann", AT)
    with pytest.raises(StudioRefused, match="another approver must decide"):
        versions.decide(v.id, "ann", True, "", AT)
    with pytest.raises(StudioRefused, match="say why"):
        versions.decide(v.id, "carl", False, "  ", AT)
    assert versions.decide(v.id, "carl", False, "the amount is too small", AT).state == "rejected"
    assert versions.submit(v.id, "ann", AT).state == "review"
    assert versions.decide(v.id, "carl", True, "ok", AT).state == "approved"
    with pytest.raises(StudioRefused, match="not under review"):
        versions.decide(v.id, "carl", True, "", AT)
    assert [(r.action, r.user) for r in versions.reviews(v.id)] == [("submitted", "ann"), ("rejected", "carl"), ("submitted", "ann"),
                                                                   ("approved", "carl")]
    assert [a.id for a in versions.approved()] == [v.id]
    versions.save("bill", {**FILES, "page.html": b"changed"}, "ann", AT)  # unlocked again


def test_runs_keep_who_started_them_and_their_first_ending(store):
    versions, runs = Versions(store.engine), Runs(store.engine)
    v, _ = versions.save("bill", FILES, "ann", AT)
    runs.add("bill-1", v.id, "bill", "upload: export.csv", "public/", "/tmp/x", "olga", AT)
    runs.started("bill-1", 4242)
    assert [r.run_id for r in runs.going()] == ["bill-1"]
    runs.finish("bill-1", "cancelled", -15, AT)
    ended = runs.finish("bill-1", "done", 0, AT)  # the exit seen after the cancel does not overwrite it
    assert (ended.state, ended.exit_code, ended.pid, ended.started_by) == ("cancelled", -15, 4242, "olga")
    assert runs.going() == [] and [r.run_id for r in runs.history()] == ["bill-1"]


def test_the_audit_log_keeps_who_did_what_newest_first(store):
    audit = Audit(store.engine)
    audit.add(AT, "ann", "save", "bill@abc")
    audit.add(AT, "carl", "approve", "bill@abc", "fine")
    assert [(a.user, a.action) for a in audit.recent()] == [("carl", "approve"), ("ann", "save")]
    assert [a.action for a in audit.recent(user="ann")] == ["save"]
