"""Pitch's machine evaluation: challenge compliance, content compliance (WIL), realism (MOS)
and speaker match, combined into the degradation score D = ((1 - C) + WIL + (1 - R/5)) / 3."""
