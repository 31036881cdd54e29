"""The environments web UI: pages that read (`pages`) and actions (`actions`)."""

from . import actions, pages

__all__ = ["actions", "pages"]
