"""Products for people: the regional threat picture (and, later, briefings)."""
