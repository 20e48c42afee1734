"""Operations.status / response_status: an id Temporal does not know is the caller's mistake, named in the error."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.api.operations import Operations
from mendflow.errors import InputError
from tests.signing import SIGNER


async def test_an_unknown_campaign_is_input_naming_it(dev_env: WorkflowEnvironment) -> None:
    missing = f"remediate/nothing/{uuid.uuid4().hex}"
    with pytest.raises(InputError, match=f"^no campaign '{missing}'$"):
        await Operations(dev_env.client, SIGNER, None).status(missing)


async def test_an_unknown_response_run_is_input_naming_it(dev_env: WorkflowEnvironment) -> None:
    missing = f"response/nothing/{uuid.uuid4().hex}"
    with pytest.raises(InputError, match=f"^no response run '{missing}'$"):
        await Operations(dev_env.client, SIGNER, None).response_status(missing)
