"""Old import path of the sandbox's JQL subset, now :mod:`bridge.sandbox.jira.jql`."""

from bridge.sandbox.jira.jql import DATE_FORMATS_MESSAGE, Context, JqlError, Query, Token, parse, sort_key, tokenize

__all__ = ["DATE_FORMATS_MESSAGE", "Context", "JqlError", "Query", "Token", "parse", "sort_key", "tokenize"]
