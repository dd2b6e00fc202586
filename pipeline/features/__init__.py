"""Feature families: behaviour (per account) and, as they land, coordination and text."""
