"""Admin API routes for the guard: registered confidential documents (fingerprints only) and a
dry run of the running gateway's detectors and profiles on a text.

`POST /guard/test` changes nothing, so it is on `read_router`, which admits auditors too; the
document routes follow the usual rule (auditors read, admins write)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep, _bearer, _header, authenticate, get_identity
from steward.admin.errors import ApiError
from steward.guard.documents import MAX_DOCUMENT_CHARS, DocumentInfo, GuardDocuments, Preview
from steward.guard.documents import preview as run_preview
from steward.guard.runtime import GuardRuntime
from steward.identity.records import AdminKeyInfo

MAX_TEST_CHARS = 1_000_000

router = APIRouter(tags=["guard"])
read_router = APIRouter(tags=["guard"])


def authenticate_reader(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> AdminKeyInfo:
    """Any valid admin key, whatever its role: for POSTs that only read (a dry run)."""
    token = header or (bearer.credentials if bearer is not None else None)
    key = get_identity(request).authenticate_admin(token) if token else None
    if key is None:
        return authenticate(request, bearer, header)  # raises the audited 401
    return key


def _unavailable() -> ApiError:
    return ApiError(
        503,
        "the guard is not wired into this admin app (create_admin_app without guard=); "
        "use the gateway's admin API",
        "guard_unavailable",
    )


def get_documents(request: Request) -> GuardDocuments:
    docs = getattr(request.app.state, "guard_documents", None)
    if docs is None:
        raise _unavailable()
    return cast(GuardDocuments, docs)


def get_guard(request: Request) -> GuardRuntime:
    guard = getattr(request.app.state, "guard", None)
    if guard is None:
        raise _unavailable()
    return cast(GuardRuntime, guard)


DocumentsDep = Annotated[GuardDocuments, Depends(get_documents)]
GuardDep = Annotated[GuardRuntime, Depends(get_guard)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentCreate(_Body):
    name: str = Field(description="Unique name, e.g. 'bluebird-launch-plan'.")
    text: str = Field(
        max_length=MAX_DOCUMENT_CHARS,
        description="The document's text. Only its fingerprints are stored, never the text.",
    )


class GuardTest(_Body):
    text: str = Field(max_length=MAX_TEST_CHARS, description="The text to scan; not stored.")
    profile: str | None = Field(
        None, description="A profile from the configuration, applied with `default`."
    )
    direction: Literal["input", "output"] = Field(
        "input", description="`input`: a prompt, before the model; `output`: an answer."
    )


@router.post("/guard/documents", status_code=201)
def add_document(body: DocumentCreate, docs: DocumentsDep, actor: ActorDep) -> DocumentInfo:
    """Register a confidential document. Gateway processes detect passages of it once they
    reload (within `server.state_poll_ms`)."""
    return docs.add(body.name, body.text, actor=actor)


@router.get("/guard/documents")
def list_documents(docs: DocumentsDep) -> list[DocumentInfo]:
    """Registered documents by name: sizes and digests, never text or hashes."""
    return docs.list()


@router.get("/guard/documents/{document}")
def get_document(document: str, docs: DocumentsDep) -> DocumentInfo:
    """A document by name or id."""
    return docs.get(document)


@router.delete("/guard/documents/{document}")
def remove_document(document: str, docs: DocumentsDep, actor: ActorDep) -> DocumentInfo:
    """Forget a document (by name or id)."""
    return docs.remove(document, actor=actor)


@read_router.post("/guard/test")
def test_text(body: GuardTest, guard: GuardDep) -> Preview:
    """What this gateway's guard does with a text: findings (with the action each gets from
    `default` plus `profile`, strictest wins) and the resulting text. Nothing is stored.
    Auditors may call it."""
    return run_preview(
        guard.settings,
        guard.scanner,
        guard.keyed,
        body.text,
        profile=body.profile,
        direction=body.direction,
    )


__all__ = ["authenticate_reader", "read_router", "router"]
