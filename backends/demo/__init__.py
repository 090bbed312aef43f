"""The built-in demo workspace: an example organisation, used when no workspace is configured."""
