"""``bridge demo``: both sandboxes on loopback, a few realistic records, and bridge syncing them.

The demo is how a newcomer sees bridge work with no vendor account, so it runs the real code path:
a config file, :func:`bridge.settings.load_settings`, :func:`bridge.bootstrap.build_engine`, the shipped
mappings, the real connectors over HTTP and :func:`bridge.sync.cycle.run_cycle`. It plays the people
(a support agent in ServiceNow, a developer in Jira) through the sandboxes' scripting APIs, and tells
the story from what the cycles report and what the sandboxes hold — never from what it expected, so a
step that did not happen is printed as such and fails the demo.

* :mod:`bridge.demo.environment` — sandboxes, work directory, config and credentials;
* :mod:`bridge.demo.seed` — the records a support agent logs;
* :mod:`bridge.demo.story` — turning cycle reports into readable lines (pure);
* :mod:`bridge.demo.scenario` — the steps, their checks, the final table.
"""
