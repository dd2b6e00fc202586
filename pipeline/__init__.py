"""statelink: find state-linked accounts in social-media account dumps."""

__version__ = "0.1.0"
