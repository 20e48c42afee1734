"""Rule packs shipped with mendflow (the top-level playbooks/ folder)."""
