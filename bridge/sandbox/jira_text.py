"""Old import path of the sandbox's text helpers, now in :mod:`bridge.sandbox.jira.render`."""

from bridge.sandbox.jira.render import adf_to_text, is_adf, text_to_adf

__all__ = ["adf_to_text", "is_adf", "text_to_adf"]
