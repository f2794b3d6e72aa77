"""The challenge taxonomy, scripts, challenge issuance and the offline challenge simulator."""
