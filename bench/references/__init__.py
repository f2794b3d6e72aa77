"""The papers' figures, quoted: every number bench shows beside its own comes from here."""
