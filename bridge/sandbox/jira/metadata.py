"""The read-only catalogue endpoints: serverInfo, myself, field, project (+ statuses), issuetype,
priority, resolution, mypermissions — what a client reads once to learn the site before syncing."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.jira.app import fail
from bridge.sandbox.jira.catalog import ISSUE_TYPES, PERMISSIONS, PRIORITIES, RESOLUTIONS, USERS
from bridge.sandbox.jira.render import RenderMixin
from bridge.sandbox.server import Reply, Request


class MetadataMixin(RenderMixin):
    """Serves the catalogue (:mod:`.catalog` plus the subclass's ``projects``/``statuses``/``field_table``)."""

    def _server_info(self, request: Request) -> Reply:
        # GET serverInfo works anonymously (OpenAPI v3 getServerInfo: "Permissions required: None").
        return Reply(
            200,
            {
                "baseUrl": self.base_url,
                "version": "1001.0.0-SNAPSHOT" if self.mode == "cloud" else "9.12.2",
                "versionNumbers": [1001, 0, 0] if self.mode == "cloud" else [9, 12, 2],
                "deploymentType": "Cloud" if self.mode == "cloud" else "Server",
                "buildNumber": 100253 if self.mode == "cloud" else 9120002,
                "buildDate": "2026-11-01T00:00:00.000+0000",
                "serverTime": self._fmt(self._now_ms(), None),
                "scmInfo": "57a0ca5b",
                "serverTitle": "Jira sandbox",
            },
        )

    def _myself(self, request: Request) -> Reply:
        # 401 when anonymous: the way to tell "authenticated" from "served as anonymous" (Atlassian's basic-auth
        # example for Jira Server; docs/connectors/jira.md, "What the Jira sandbox reproduces").
        handle = self._user(request)
        body = self._user_json(handle) or {}
        body["locale"] = "en_US"
        return Reply(200, body)

    def _get_user(self, request: Request) -> Reply:
        """GET /user: ``accountId`` (Cloud) or ``username`` (Data Center); 404 for anyone else (OpenAPI v3 getUser)."""
        self._user(request)
        key = "accountId" if self.mode == "cloud" else "name"
        wanted = request.arg("accountId" if self.mode == "cloud" else "username")
        handle = next((h for h, u in USERS.items() if u[key] == wanted), None)
        if handle is None:
            raise fail(404, f"The user named '{wanted}' does not exist")
        return Reply(200, self._user_json(handle) or {})

    def _user_search(self, request: Request) -> Reply:
        """GET /user/search: ``query`` (Cloud) or ``username`` (DC) matched against the start of the display
        name, user name or e-mail address, case-insensitively (OpenAPI v3 findUsers)."""
        self._user(request)
        text = (request.arg("query" if self.mode == "cloud" else "username") or "").lower()
        if not text:
            raise fail(400, "The query parameter 'query' is required")
        found = [h for h, u in USERS.items()
                 if any(str(u[f]).lower().startswith(text) for f in ("displayName", "name", "emailAddress"))]
        return Reply(200, [self._user_json(h) for h in found])

    def _fields(self, request: Request) -> Reply:
        self._user(request)
        out = []
        for fid, name, kind, custom in self.field_table:
            schema: dict[str, Any] = {"type": kind}
            if custom:
                schema.update({"custom": custom, "customId": int(fid.split("_")[1])})
            else:
                schema["system"] = fid
            if kind == "array":
                schema["items"] = "string" if fid == "labels" else "component" if fid == "components" else "version"
            clause = [f"cf[{fid.split('_')[1]}]", name] if custom else [fid]
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": bool(custom),
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": clause,
                    "schema": schema,
                }
            )
        return Reply(200, out)

    def _project_or_404(self, key: str) -> str:
        for pkey, project in self.projects.items():
            if key.upper() == pkey or key == project["id"]:
                return pkey
        raise fail(404, f"No project could be found with key '{key}'.")

    def _project(self, request: Request) -> Reply:
        self._user(request)
        key = self._project_or_404(request.params["key"])
        body = self._project_json(key)
        body["issueTypes"] = [self._issuetype_json(t) for t in ISSUE_TYPES]
        body["components"] = [{"id": c, "name": n} for c, n in self.projects[key]["components"].items()]
        return Reply(200, body)

    def _project_statuses(self, request: Request) -> Reply:
        self._user(request)
        self._project_or_404(request.params["key"])
        statuses = [self._status_json(s) for s in self.statuses]
        return Reply(
            200,
            [
                {
                    "self": f"{self.base_url}{self.api}/issuetype/{t}",
                    "id": t,
                    "name": n,
                    "subtask": False,
                    "statuses": statuses,
                }
                for t, n in ISSUE_TYPES.items()
            ],
        )

    def _issuetypes(self, request: Request) -> Reply:
        self._user(request)
        return Reply(200, [self._issuetype_json(t) for t in ISSUE_TYPES])

    def _priorities(self, request: Request) -> Reply:
        self._user(request)
        return Reply(200, [self._priority_json(p) for p in PRIORITIES])

    def _resolutions(self, request: Request) -> Reply:
        self._user(request)
        return Reply(
            200,
            [
                {"self": f"{self.base_url}{self.api}/resolution/{r}", "id": r, "name": n, "description": ""}
                for r, n in RESOLUTIONS.items()
            ],
        )

    def _mypermissions(self, request: Request) -> Reply:
        # OpenAPI v3 getMyPermissions: ``permissions`` is required on Cloud; unknown keys are a 400.
        self._user(request)
        wanted = [p.strip() for p in (request.arg("permissions") or "").split(",") if p.strip()]
        if not wanted:
            if self.mode == "cloud":
                raise fail(400, "The permissions query parameter is required.")
            wanted = list(PERMISSIONS)
        unknown = [p for p in wanted if p not in PERMISSIONS]
        if unknown:
            raise fail(400, f"Invalid permission key(s): {', '.join(unknown)}.")
        project = request.arg("projectKey")
        if project:
            self._project_or_404(project)
        revoked = set(self.state["settings"]["revoked"])
        return Reply(
            200,
            {
                "permissions": {
                    p: {
                        "id": str(i + 1),
                        "key": p,
                        "name": PERMISSIONS[p],
                        "type": "PROJECT",
                        "description": "",
                        "havePermission": p not in revoked,
                    }
                    for i, p in enumerate(wanted)
                }
            },
        )
