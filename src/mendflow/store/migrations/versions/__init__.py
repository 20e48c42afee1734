"""One file per schema change; `down_revision` links them in order."""
