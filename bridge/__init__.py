"""bridge keeps an ITSM tool and a Jira project in sync."""

__version__ = "0.1.0"

