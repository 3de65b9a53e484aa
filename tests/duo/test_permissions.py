"""Who may read what: GitLab's `read_enterprise_ai_analytics` / `read_pro_ai_analytics`
(Reporter or above on the namespace, inherited from ancestors; administrators everywhere),
instance-wide data for administrators only, private groups invisible to non-members. A caller
without access gets GitLab's error and no data."""

from __future__ import annotations

import pytest

from duo_helpers import data_of, db, engine_now, gql
from engine.web.duo import Caller
from engine.web.duo.rules import RESOURCE_ACCESS_ERROR

GROUP_FIELDS = """{ group(fullPath: "%s") { fullPath
  aiUsageData { all(first: 1) { nodes { event } } }
  aiMetrics { duoUsedCount }
  aiUserMetrics { nodes { user { username } } } } }"""
INSTANCE = "{ aiUsageData { all(first: 1) { nodes { event } } } }"


def assert_denied(body: dict, paths: list[list]) -> None:
    assert sorted(e["path"] for e in body["errors"]) == sorted(paths)
    assert {e["message"] for e in body["errors"]} == {RESOURCE_ACCESS_ERROR}


@pytest.mark.parametrize("caller", [Caller("guest-viewer"), Caller.anonymous(), Caller("acme-ana"),
                                    Caller("not-a-user")])
def test_no_analytics_access_on_gitlab_org(engine_now, caller):
    """gitlab-org is public: everybody sees the group, only Reporters+ its AI analytics."""
    body = gql(engine_now, GROUP_FIELDS % "gitlab-org", caller=caller)
    assert body["data"] == {"group": {"fullPath": "gitlab-org", "aiUsageData": None,
                                      "aiMetrics": None, "aiUserMetrics": None}}
    assert_denied(body, [["group", "aiUsageData"], ["group", "aiMetrics"],
                         ["group", "aiUserMetrics"]])


def test_developer_reads_gitlab_org_and_subgroups(engine_now):
    data = data_of(engine_now, GROUP_FIELDS % "gitlab-org", caller=Caller("jasbourne"))
    assert data["group"]["aiMetrics"]["duoUsedCount"] > 0
    data = data_of(engine_now, GROUP_FIELDS % "gitlab-org/ci-cd/runner-fleet", caller=Caller("jasbourne"))
    assert data["group"]["aiUsageData"]["all"]["nodes"]


def test_subgroup_member_only_reads_its_subgroup(engine_now, db):
    """A member of gitlab-org/ai-powered only: analytics there, not on the parent."""
    username = db.execute("""SELECT u.username FROM duo_members m JOIN duo_users u ON u.id = m.user_id
        JOIN duo_groups g ON g.id = m.source_id
        WHERE m.source_type = 'Namespace' AND g.full_path = 'gitlab-org/ai-powered' LIMIT 1""").fetchone()[0]
    caller = Caller(username)
    assert data_of(engine_now, GROUP_FIELDS % "gitlab-org/ai-powered", caller=caller)
    assert_denied(gql(engine_now, GROUP_FIELDS % "gitlab-org", caller=caller),
                  [["group", "aiUsageData"], ["group", "aiMetrics"], ["group", "aiUserMetrics"]])


def test_project_member_reads_the_project(engine_now, db):
    username, path = db.execute("""SELECT u.username, p.full_path FROM duo_members m
        JOIN duo_users u ON u.id = m.user_id JOIN duo_projects p ON p.id = m.source_id
        WHERE m.source_type = 'Project' LIMIT 1""").fetchone()
    query = """{ project(fullPath: "%s") { fullPath aiMetrics { duoUsedCount } } }""" % path
    assert data_of(engine_now, query, caller=Caller(username))["project"]["aiMetrics"] is not None
    body = gql(engine_now, GROUP_FIELDS % "gitlab-org", caller=Caller(username))
    assert body["errors"]


def test_private_group_is_invisible_to_outsiders(engine_now):
    """acme-corp is private: null for a gitlab-org member (GitLab: no error, no group)."""
    body = gql(engine_now, GROUP_FIELDS % "acme-corp", caller=Caller("jasbourne"))
    assert body == {"data": {"group": None}}
    body = gql(engine_now, GROUP_FIELDS % "acme-corp", caller=Caller.anonymous())
    assert body == {"data": {"group": None}}
    body = gql(engine_now, '{ project(fullPath: "acme-corp/website") { id } }', caller=Caller("jasbourne"))
    assert body == {"data": {"project": None}}


def test_acme_member_reads_acme_only(engine_now):
    data = data_of(engine_now, GROUP_FIELDS % "acme-corp", caller=Caller("acme-ana"))
    assert data["group"]["aiMetrics"]["duoUsedCount"] > 0
    names = [n["user"]["username"] for n in data["group"]["aiUserMetrics"]["nodes"]]
    assert names and all(n.startswith("acme-") for n in names)


@pytest.mark.parametrize("caller", [Caller("jasbourne"), Caller.anonymous(), Caller("guest-viewer")])
def test_instance_data_is_for_administrators(engine_now, caller):
    body = gql(engine_now, INSTANCE, caller=caller)
    assert body["data"] == {"aiUsageData": None}
    assert_denied(body, [["aiUsageData"]])


def test_administrators(engine_now):
    """The local administrator (no auth on loopback) and an admin user by token."""
    for caller in (Caller.local_admin(), Caller("root"), None):
        assert data_of(engine_now, INSTANCE, caller=caller)["aiUsageData"]["all"]["nodes"]
        assert data_of(engine_now, GROUP_FIELDS % "acme-corp", caller=caller)["group"]["aiMetrics"]
    assert data_of(engine_now, "{ currentUser { username id } }", caller=Caller("root")) == {
        "currentUser": {"username": "root", "id": "gid://gitlab/User/1"}}
    assert data_of(engine_now, "{ currentUser { username } }", caller=Caller.anonymous()) == {
        "currentUser": None}
