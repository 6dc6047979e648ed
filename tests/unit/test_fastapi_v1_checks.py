"""``memory.skip_pydantic_v1_checks``: FastAPI stops importing ``pydantic.v1`` and still refuses its models.

The import itself is checked where it matters, in the running daemon (tests/integration/test_run_imports.py);
here, that the patch changes nothing FastAPI decides: a v1 model is refused as before, a v2 one accepted.
"""

from __future__ import annotations

import warnings

import pytest
from fastapi import FastAPI
from fastapi._compat import shared
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import PydanticV1NotSupportedError
from pydantic import BaseModel

from tevo_bridge.memory import skip_pydantic_v1_checks


class Answer(BaseModel):
    ok: bool


def test_a_pydantic_v1_model_is_still_refused() -> None:
    skip_pydantic_v1_checks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from pydantic import v1

    class Old(v1.BaseModel):
        ok: bool

    app = FastAPI()
    with pytest.raises(PydanticV1NotSupportedError):  # adding the route (fastapi.utils' check)
        @app.post("/old", response_model=Old)
        async def old() -> None: ...
    with pytest.raises(PydanticV1NotSupportedError):  # answering with one (fastapi.encoders' check)
        jsonable_encoder(Old(ok=True))


def test_a_pydantic_v2_model_is_accepted_and_the_patch_is_applied_once() -> None:
    skip_pydantic_v1_checks()
    patched = shared.is_pydantic_v1_model_class
    skip_pydantic_v1_checks()
    assert shared.is_pydantic_v1_model_class is patched and getattr(patched, "skips_v1", False)

    app = FastAPI()

    @app.post("/new")
    async def new(body: Answer) -> Answer:
        return body

    assert any(getattr(route, "path", "") == "/new" for route in app.routes)
