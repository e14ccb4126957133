"""The Jira connector assembled from its parts (one responsibility per module of this package)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.connectors.http import HttpOptions
from bridge.connectors.jira.attachments import JiraAttachments
from bridge.connectors.jira.batch import JiraBatchReads
from bridge.connectors.jira.checks import JiraChecks
from bridge.connectors.jira.comments import JiraComments
from bridge.connectors.jira.workflow import JiraWorkflow
from bridge.connectors.jira.writes import JiraWrites
from bridge.errors import ConfigError
from bridge.model import Side

if TYPE_CHECKING:
    from bridge.settings import JiraSettings


class JiraConnector(JiraBatchReads, JiraWrites, JiraComments, JiraWorkflow, JiraChecks, JiraAttachments):
    """Jira Cloud or Data Center, for one site and one account.

    ``deployment`` is given by configuration (the adapter never calls ``serverInfo`` to guess it);
    Cloud authenticates with ``email`` + API ``token`` (basic), Data Center with a personal access
    ``token`` (bearer). ``time_zone`` overrides the account's profile zone read from ``/myself``.
    ``overlap`` is how far before the cursor a change query reaches. ``itsm_base_url`` and
    ``itsm_application`` name the ITSM in remote links when the record URL does not say.
    ``sleep`` is injected by tests so retries and the budget never really sleep.
    """

    side = Side.JIRA
    name = "jira"
    display_name = "Jira"

    @classmethod
    def from_settings(cls, settings: JiraSettings, **kwargs: Any) -> JiraConnector:
        """Build from the ``jira:`` section of the configuration (``kwargs`` as in the constructor)."""
        if settings.token is None:
            raise ConfigError("jira.token is not set (Cloud: an API token; Data Center: a personal access token)")
        http = HttpOptions(
            base_url=settings.url,
            connect_timeout=settings.timeout_seconds.connect,
            read_timeout=settings.timeout_seconds.read,
            verify_tls=settings.verify_tls,
            requests_per_second=settings.requests_per_second,
        )
        return cls(
            settings.url,
            deployment=settings.deployment,
            token=settings.token,
            email=settings.email,
            http=http,
            ca_bundle=settings.ca_bundle,
            **kwargs,
        )

