"""The deposit portal: a Starlette application, its HTTP API, and the deposit flow its pages share.

API (``docs/senders.md``), authenticated by ``Authorization: Bearer <jeton>``:

- ``POST /api/depot?periode=AAAA-MM[&jeu=...]``, the file as the multipart field ``fichier``: the
  verifier's JSON document (``retours.md`` §2) plus ``depose``, ``sha256`` and ``taille_octets``;
  200 whether or not the file was deposited (``depose`` says it; a rejected file never is);
  401 no or wrong token, 403 a dataset the source does not send, 413 over ``ALI_MAX_FILE_BYTES``,
  422 a bad month, an unknown dataset or a file name with a path, 429 after too many wrong tokens.
- ``GET /api/accuses?periode=AAAA-MM``: the source's receipt (``accuses/<mois>/<source>.json``, as
  published by the last run), 404 before any.
- ``GET /api/depots``: the source's deposit history.

Nothing here opens the warehouse: the verdict comes from the verifier's in-memory DuckDB and the
receipts from the publication folder, so the portal never blocks a run nor waits for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipelines.inbox.limits import limit
from pipelines.months import parse_month
from pipelines.portal.deposit import Attempt, Depository, Refused, check_month, file_name, now_text
from pipelines.portal.security import Backoff, SecurityHeaders, Sessions, same
from pipelines.portal.tokens import Identity, TokenStore
from pipelines.portal.upload import OVERHEAD_BYTES, UploadError, receive

STATIC = Path(__file__).with_name("static")


@dataclass
class Portal:
    tokens: TokenStore
    depository: Depository
    publish: Path
    backoff: Backoff
    sessions: Sessions


def portal(request: Request) -> Portal:
    return request.app.state.portal


def client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def check_token(request: Request, token: str, canal: str) -> Identity | Response:
    """The identity ``token`` opens, or the refusal (429 while backing off, 401) already logged."""
    p, address = portal(request), client(request)
    wait = p.backoff.wait(address)
    if wait:
        return JSONResponse({"erreur": f"trop d'essais de jeton : réessayer dans {wait} s"}, 429,
                            headers={"Retry-After": str(wait)})
    identity = await anyio.to_thread.run_sync(p.tokens.check, token) if token else None
    if identity is None or identity.source not in p.depository.sources():
        if token:
            p.backoff.failed(address)
        p.depository.record(Attempt(now_text(), canal, None, http=401, motif="jeton absent ou invalide"))
        return JSONResponse({"erreur": "jeton absent ou invalide"}, 401, headers={"WWW-Authenticate": "Bearer"})
    p.backoff.succeeded(address)
    return identity


async def bearer(request: Request) -> Identity | Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return await check_token(request, token.strip() if scheme.lower() == "bearer" else "", "api")


async def deposit(request: Request, identity: Identity, canal: str, periode: str | None = None,
                  jeu: str | None = None, csrf: str | None = None) -> tuple[int, dict]:
    """Receive, verify and, unless rejected, deposit the request's file: (HTTP status, JSON document).

    For a page (``csrf`` given) the month, the dataset and the CSRF token come with the file.
    """
    p = portal(request)
    attempt = Attempt(now_text(), canal, identity.source, periode, jeu)
    upload = None
    try:
        cap = limit("ALI_MAX_FILE_BYTES")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap + OVERHEAD_BYTES:
            raise UploadError(413, f"fichier de plus de {cap} octets (ALI_MAX_FILE_BYTES)")
        if periode is not None:
            check_month(periode)
        upload = await receive(request.stream(), request.headers.get("content-type", ""), p.depository.staging, cap)
        attempt.sha256, attempt.taille_octets = upload.sha256 or None, upload.size
        if csrf is not None:
            if not same(upload.fields.get("csrf"), csrf):
                raise Refused(403, "formulaire expiré : recharger la page et déposer à nouveau")
            attempt.periode = periode = check_month(upload.fields.get("periode", ""))
            jeu = upload.fields.get("jeu") or None
        if upload.path is None:
            raise Refused(422, "aucun fichier dans le champ « fichier »")
        dataset, name = file_name(upload.client_name, jeu)
        attempt.jeu = dataset
        if dataset not in p.depository.allowed(identity.source):
            raise Refused(403, f"le jeu {dataset} n'est pas envoyé par {identity.source} : "
                               + ", ".join(p.depository.allowed(identity.source)))
        upload.path = p.depository.named(upload.path, name)
        verdict = await anyio.to_thread.run_sync(p.depository.verdict, upload.path, identity.source, periode, name)
        attempt.statut, attempt.regle_rejet = verdict.statut, verdict.regle_rejet
        attempt.lignes_quarantaine = verdict.lignes_quarantaine
        if verdict.statut != "REJETE":
            await anyio.to_thread.run_sync(p.depository.place, upload.path, identity.source, periode, name)
            upload.path, attempt.depose = None, True
        return 200, {**verdict.as_json(), "depose": attempt.depose, "sha256": upload.sha256,
                     "taille_octets": upload.size}
    except (Refused, UploadError) as refusal:
        attempt.http, attempt.motif = refusal.status, refusal.reason
        return refusal.status, {"erreur": refusal.reason, "depose": False}
    finally:
        if upload is not None:
            upload.discard()
        p.depository.record(attempt)


async def api_depot(request: Request) -> Response:
    identity = await bearer(request)
    if isinstance(identity, Response):
        return identity
    status, document = await deposit(request, identity, "api", request.query_params.get("periode", ""),
                                     request.query_params.get("jeu") or None)
    return JSONResponse(document, status)


def receipt_path(request: Request, source: str, mois: str, suffix: str) -> Path | None:
    """The published receipt of ``source`` for ``mois``; the month is checked before it names a folder."""
    if parse_month(mois) is None:
        raise Refused(422, "mois invalide : attendu AAAA-MM")
    path = portal(request).publish / "accuses" / mois / f"{source}{suffix}"
    return path if path.is_file() else None


async def api_accuses(request: Request) -> Response:
    identity = await bearer(request)
    if isinstance(identity, Response):
        return identity
    try:
        path = receipt_path(request, identity.source, request.query_params.get("periode", ""), ".json")
    except Refused as refusal:
        return JSONResponse({"erreur": refusal.reason}, refusal.status)
    if path is None:
        return JSONResponse({"erreur": "pas encore d'accusé de réception pour ce mois"}, 404)
    return Response(path.read_bytes(), media_type="application/json")


async def api_depots(request: Request) -> Response:
    identity = await bearer(request)
    if isinstance(identity, Response):
        return identity
    return JSONResponse(portal(request).depository.history(identity.source))


async def sante(request: Request) -> Response:
    return Response("ok\n", media_type="text/plain")


def create_app(inbox: Path, reference: Path, publish: Path, folder: Path) -> Starlette:
    from pipelines.portal.pages import ROUTES

    routes = [Route("/api/depot", api_depot, methods=["POST"]), Route("/api/accuses", api_accuses),
              Route("/api/depots", api_depots), Route("/sante", sante), *ROUTES,
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.portal = Portal(TokenStore(folder), Depository(inbox, reference, folder), publish, Backoff(), Sessions())
    return app
