"""TFE v2 organizations and workspaces: our namespaces and environments.

An organization of the TFE API is one of our namespaces (a user's or an
organization's); a workspace is an environment (`ws-<id>`), always with
local execution: state and locking, no remote runs.
"""
