"""Campaign concepts the remediation workflow uses: rollout batches (`rollout`) and change windows (`windows`).

Pure and free of I/O, so the workflow imports them inside the sandbox; this file imports nothing for that reason.
"""
