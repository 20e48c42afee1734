"""The trust boundary: who may ask mendflow to act, and the API's signed proof that they did.

    person ──(API token | OIDC JWT | signed Slack request)──> API: identity + groups from SERVER config
        ──(Ed25519-signed claims)──> workflow validator: proof verified against the WORKER's trusted keys,
        then RBAC on the groups inside the proof.

Callers import from this package. `proof` and `policy` are pure (workflow validators use them); `signing`
holds the private key and lives only in the API.
"""

from mendflow.auth.policy import check_decision, check_operator, check_suppression, nonce_of
from mendflow.auth.proof import Claims, ProofRefused, canonical, verify
from mendflow.auth.signing import PROOF_TTL, DecisionSigner, ensure_key_file, key_id_for, load_private_key

__all__ = [
    "PROOF_TTL",
    "Claims",
    "DecisionSigner",
    "ProofRefused",
    "canonical",
    "check_decision",
    "check_operator",
    "check_suppression",
    "ensure_key_file",
    "key_id_for",
    "load_private_key",
    "nonce_of",
    "verify",
]
