"""Biometrics-capture service: face photo, fingerprints and interview at the counter."""
