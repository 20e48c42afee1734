"""Evidence: what mendflow saw and did, kept so that an auditor can check it without trusting mendflow.

- `snapshots`: content-addressed JSON-lines blobs (inventories, findings, before/after states) by `sha256:` digest;
- `changes`: each campaign write and restore as an audit record carrying its before/after snapshot digests;
- `compliance`: findings grouped by the framework controls their playbooks cite;
- `bundle`, `export`, `verify`, `keys`: the signed evidence bundle (`mendflow evidence`, docs/evidence.md).
"""

from mendflow.evidence.bundle import read_bundle, write_bundle
from mendflow.evidence.changes import CHANGE_KIND, DECISION_KINDS, record_change
from mendflow.evidence.compliance import ComplianceMap, Framework, compliance_map
from mendflow.evidence.export import Exported, export_evidence
from mendflow.evidence.keys import KEY_FILE, fingerprint, parse_public_key, public_text, signing_key
from mendflow.evidence.verify import Verified, verify_bundle

__all__ = [
    "CHANGE_KIND",
    "DECISION_KINDS",
    "KEY_FILE",
    "ComplianceMap",
    "Exported",
    "Framework",
    "Verified",
    "compliance_map",
    "export_evidence",
    "fingerprint",
    "parse_public_key",
    "public_text",
    "read_bundle",
    "record_change",
    "signing_key",
    "verify_bundle",
    "write_bundle",
]
