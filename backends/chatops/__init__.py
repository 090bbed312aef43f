"""ChatOps: the platform verbs as Slack slash commands (``idp-console serve-chatops``).

:mod:`.slack` speaks Slack's protocol (signatures, response_url, Block Kit) through slack-sdk;
:mod:`.identity` maps a Slack user to a catalog User; :mod:`.guard` decides what that user may do;
:mod:`.audit` records every chat action in the history store; :mod:`.server` ties them together
behind a stdlib HTTP server. What a verb *does* is given to the server by its caller (the console
wires the deploy engine and the scaffolder), so this package stays free of any UI.
"""
