"""The portal's French pages: sign in with the token, deposit, read the verdict, the receipts, the history.

Server-rendered (Jinja2, escaped), no script at all: a form posts, the server answers a page. A page
session is opened by the token once (``security.Sessions``); every form carries the session's CSRF
token. A sender sees its own source only: the source always comes from the session, never from the
request. The published receipt page is served as it is, its inline stylesheet allowed by its hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from pipelines.contract import DATASETS, ECHEANCE_JOUR, FIXES
from pipelines.months import FIRST_MONTH, parse_month
from pipelines.portal.app import check_token, deposit, portal, receipt_path
from pipelines.portal.deposit import PARIS, Refused
from pipelines.portal.security import COOKIE, CSP, Session, same
from pipelines.senders.receipt_page import QUARANTINE_SHOWN, STYLE, month_name
from pipelines.senders.table_schema import FILES, path

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
TEMPLATES.env.globals.update(month_name=month_name, fixes=FIXES, echeance_jour=ECHEANCE_JOUR)
TEMPLATES.env.filters["paris"] = lambda utc: dt.datetime.fromisoformat(utc).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
RECEIPT_CSP = CSP.replace("style-src 'self'", "style-src 'sha256-"
                          + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode() + "'")
MEDIA = {".json": "application/json", ".csv": "text/csv",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORM_BYTES = 4096


def _signed_in(request: Request) -> Session | None:
    """The request's session if it is signed in with its source's current token."""
    p = portal(request)
    session = p.sessions.get(request.cookies.get(COOKIE))
    if session is None or session.identity is None or not p.tokens.current(session.identity):
        return None
    return session if session.identity.source in p.depository.sources() else None


def _with_cookie(response: Response, request: Request, sid: str) -> Response:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/", secure=request.url.scheme == "https")
    return response


def _page(request: Request, name: str, context: dict, status: int = 200) -> Response:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form, read up to ``FORM_BYTES`` (a sign-in or sign-out form is a few fields)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            raise Refused(413, "formulaire trop long")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


async def connexion(request: Request) -> Response:
    p = portal(request)
    if request.method == "GET":
        if _signed_in(request):
            return RedirectResponse("/", 303)
        session = p.sessions.get(request.cookies.get(COOKIE))
        sid = request.cookies.get(COOKIE)
        if session is None:
            sid, session = p.sessions.open()
        return _with_cookie(_page(request, "connexion.html", {"csrf": session.csrf}), request, sid)
    session = p.sessions.get(request.cookies.get(COOKIE))
    try:
        form = await _form(request)
    except Refused as refusal:
        return Response(refusal.reason, refusal.status)
    if session is None or not same(form.get("csrf"), session.csrf):
        return RedirectResponse("/connexion", 303)
    identity = await check_token(request, form.get("jeton", ""), "page")
    if not hasattr(identity, "source"):
        message = "Trop d'essais : réessayer plus tard." if identity.status_code == 429 else "Jeton invalide."
        return _page(request, "connexion.html", {"csrf": session.csrf, "erreur": message}, identity.status_code)
    p.sessions.close(request.cookies.get(COOKIE))
    sid, _ = p.sessions.open(identity)
    return _with_cookie(RedirectResponse("/", 303), request, sid)


async def deconnexion(request: Request) -> Response:
    session = _signed_in(request)
    try:
        form = await _form(request)
    except Refused as refusal:
        return Response(refusal.reason, refusal.status)
    if session is not None and same(form.get("csrf"), session.csrf):
        portal(request).sessions.close(request.cookies.get(COOKIE))
    return RedirectResponse("/connexion", 303)


def _context(request: Request, session: Session) -> dict:
    p, source = portal(request), session.identity.source
    today = dt.datetime.now(PARIS).date()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    folder = p.publish / "accuses"
    months = sorted((m.name for m in folder.iterdir() if parse_month(m.name) and (m / f"{source}.html").is_file()),
                    reverse=True) if folder.is_dir() else []
    return {"source": source, "nom": p.depository.source_name(source), "csrf": session.csrf,
            "jeux": p.depository.allowed(source), "mois_defaut": previous, "mois_min": FIRST_MONTH,
            "mois_max": today.strftime("%Y-%m"), "historique": p.depository.history(source, 50), "accuses": months}


async def accueil(request: Request) -> Response:
    session = _signed_in(request)
    if session is None:
        return RedirectResponse("/connexion", 303)
    return _page(request, "accueil.html", _context(request, session))


async def depot(request: Request) -> Response:
    session = _signed_in(request)
    if session is None:
        return RedirectResponse("/connexion", 303)
    status, verdict = await deposit(request, session.identity, "page", csrf=session.csrf)
    rules = Counter(q["regle"] for q in verdict.get("quarantaine", []))
    return _page(request, "verdict.html", {**_context(request, session), "verdict": verdict, "regles": rules,
                                           "montrees": QUARANTINE_SHOWN}, status)


async def accuse(request: Request) -> Response:
    session = _signed_in(request)
    if session is None:
        return RedirectResponse("/connexion", 303)
    mois, suffix = request.path_params["mois"], ".csv" if request.url.path.endswith("/csv") else ".html"
    try:
        path = receipt_path(request, session.identity.source, mois, suffix)
    except Refused as refusal:
        return Response(refusal.reason, refusal.status)
    if path is None:
        return Response("pas d'accusé de réception pour ce mois", 404)
    if suffix == ".csv":
        return FileResponse(path, media_type="text/csv", filename=f"accuse-{session.identity.source}-{mois}.csv")
    return Response(path.read_bytes(), media_type="text/html; charset=utf-8",
                    headers={"content-security-policy": RECEIPT_CSP})


async def schema_file(request: Request) -> Response:
    """The contract's Table Schema, templates and example: public, like schema.data.gouv.fr's."""
    jeu, name = request.path_params["jeu"], request.path_params["fichier"]
    if jeu not in DATASETS or name not in FILES:
        return Response("introuvable", 404)
    return FileResponse(path(jeu, name), media_type=MEDIA[Path(name).suffix],
                        filename=None if name == "schema.json" else f"{jeu}-{name}")


async def favicon(request: Request) -> Response:
    return FileResponse(Path(__file__).with_name("static") / "favicon.svg", media_type="image/svg+xml")


ROUTES = [
    Route("/", accueil), Route("/connexion", connexion, methods=["GET", "POST"]),
    Route("/deconnexion", deconnexion, methods=["POST"]), Route("/depot", depot, methods=["POST"]),
    Route("/accuses/{mois}", accuse), Route("/accuses/{mois}/csv", accuse),
    Route("/schemas/{jeu}/{fichier}", schema_file), Route("/favicon.ico", favicon),
]
