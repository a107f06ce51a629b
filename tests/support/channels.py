"""One test API, several transports: a document operation done as a user through the
operations layer in-process, over WebDAV against a real server, through the web app against
a real server, or with the `liasse` command. Each answers what the user notices: the
operation was done, refused (with a reason), or the target is hidden as if it did not exist.

Paths are the drive's, company folder first ("Boulangerie Martin/Achats/x.txt").

    channel.read(user, path)                 channel.overwrite(user, path)
    channel.deposit(user, folder, name)      channel.mkdir(user, folder, name)
    channel.rename(user, path, new_name)     channel.move(user, path, folder)
    channel.copy(user, path, folder, name)   channel.delete(user, path)
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from acl.db import Database
from acl.documents import browsing, operations, store
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.errors import NotFound, Refused
from acl.people.models import Company, User
from acl.rights.principals import load_principal
from support.dav import Dav

DONE, REFUSED, HIDDEN = "done", "refused", "hidden"
BODY = b"contenu du test de la matrice des droits\n"


def _parent(path: str) -> tuple[str, str]:
    folder, _, name = path.rpartition("/")
    return folder, name


class InProcess:
    """The operations layer called directly, as the CLI and the background jobs call it."""

    name = "in-process"
    offers = frozenset({"read", "overwrite", "deposit", "mkdir", "rename", "move", "copy",
                        "delete"})

    def __init__(self, db: Database, blobs: BlobStore, limits: Limits) -> None:
        self.db, self.blobs, self.limits = db, blobs, limits

    def _do(self, login: str, act: Callable) -> str:
        try:
            with self.db.transaction() as tx:
                principal = load_principal(tx, tx.scalars(
                    select(User).where(User.login == login)).one())
                act(tx, principal, lambda path: browsing.open_drive_path(tx, principal, path))
        except NotFound:
            return HIDDEN
        except Refused:
            return REFUSED
        return DONE

    def read(self, login: str, path: str) -> str:
        def act(tx, p, open_):
            body = operations.open_body(p, open_(path), self.blobs, on_close=lambda *_: None)
            body.read()
            body.close()
        return self._do(login, act)

    def overwrite(self, login: str, path: str) -> str:
        return self.deposit(login, *_parent(path))

    def deposit(self, login: str, folder: str, name: str) -> str:
        return self._do(login, lambda tx, p, open_: operations.deposit_bytes(
            tx, p, self.blobs, self.limits, open_(folder), name, BODY))

    def mkdir(self, login: str, folder: str, name: str) -> str:
        return self._do(login, lambda tx, p, open_: operations.mkdir(tx, p, open_(folder), name))

    def rename(self, login: str, path: str, new_name: str) -> str:
        def act(tx, p, open_):
            source = open_(path)
            operations.move(tx, p, source, operations.parent_of(source), new_name)
        return self._do(login, act)

    def move(self, login: str, path: str, folder: str) -> str:
        return self._do(login, lambda tx, p, open_: operations.move(tx, p, open_(path),
                                                                     open_(folder)))

    def copy(self, login: str, path: str, folder: str, name: str) -> str:
        return self._do(login, lambda tx, p, open_: operations.copy(
            tx, p, open_(path), open_(folder), name))

    def delete(self, login: str, path: str) -> str:
        return self._do(login, lambda tx, p, open_: operations.delete(tx, p, open_(path)))


def _http_outcome(status: int, answer: str) -> str:
    assert status < 500, (status, answer[:500])
    if status < 400:
        return DONE
    return HIDDEN if status == 404 else REFUSED


class WebDav:
    """A real server's drive, a connection per request (the server closes a connection idle
    for a while, and the cases of one user are far apart)."""

    name = "webdav"
    offers = InProcess.offers

    def __init__(self, base_url: str, password: str) -> None:
        self.base_url, self.password = base_url, password

    def _send(self, login: str, method: str, path: str, body=None, **headers) -> str:
        client = Dav(self.base_url, login, self.password)
        try:
            reply = client(method, self._url(path), body, headers)
        finally:
            client.close()
        if reply.status == 409:  # the folder of the target or of the destination is missing
            return HIDDEN        # (RFC 4918 §9.7.1, §9.8.5): for this user it does not exist
        return _http_outcome(reply.status, reply.text)

    def _url(self, path: str) -> str:
        return urlsplit(self.base_url).path.rstrip("/") + "/dav/" + quote(path)

    def read(self, login: str, path: str) -> str:
        return self._send(login, "GET", path)

    def overwrite(self, login: str, path: str) -> str:
        return self._send(login, "PUT", path, BODY)

    def deposit(self, login: str, folder: str, name: str) -> str:
        return self._send(login, "PUT", f"{folder}/{name}", BODY)

    def mkdir(self, login: str, folder: str, name: str) -> str:
        return self._send(login, "MKCOL", f"{folder}/{name}")

    def rename(self, login: str, path: str, new_name: str) -> str:
        folder, _ = _parent(path)
        return self.move(login, path, folder, new_name)

    def move(self, login: str, path: str, folder: str, name: str | None = None) -> str:
        target = f"{folder}/{name or _parent(path)[1]}"
        return self._send(login, "MOVE", path, Destination=self.base_url.rstrip("/") +
                          self._url(target), Overwrite="F")

    def copy(self, login: str, path: str, folder: str, name: str) -> str:
        return self._send(login, "COPY", path, Destination=self.base_url.rstrip("/") +
                          self._url(f"{folder}/{name}"), Overwrite="F")

    def delete(self, login: str, path: str) -> str:
        return self._send(login, "DELETE", path)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A signed-in browser session over http.client: its cookie and its CSRF token (a
    connection per request, as for `WebDav`)."""

    def __init__(self, base_url: str, login: str | None, password: str = "") -> None:
        """Signed in as `login` (None: a browser that has not signed in)."""
        parts = urlsplit(base_url)
        self.address = (parts.hostname, parts.port)
        self.cookie = ""
        self.headers = None
        token = CSRF.search(self.get("/connexion")[1]).group(1)
        if login is None:
            self.token = token
            return
        status, _ = self.post("/connexion", {"login": login, "password": password,
                                             "csrf_token": token})
        assert status == 302, f"{login} could not sign in ({status})"
        self.token = CSRF.search(self.get("/tableau-de-bord")[1]).group(1)

    def _send(self, method: str, url: str, body: bytes | None = None,
              content_type: str = "") -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if content_type:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(*self.address, timeout=60)
        try:
            connection.request(method, url, body=body, headers=headers)
            response = connection.getresponse()
            self.headers = response.headers  # of the last answer
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    self.cookie = value.split(";", 1)[0]
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def get(self, url: str) -> tuple[int, str]:
        return self._send("GET", url)

    def post(self, url: str, fields: dict[str, str] | None = None,
             file: tuple[str, bytes] | None = None) -> tuple[int, str]:
        fields = {"csrf_token": getattr(self, "token", ""), **(fields or {})}
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                 .encode() for k, v in fields.items()]
        if file is not None:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                         f'filename="{file[0]}"\r\nContent-Type: application/octet-stream'
                         '\r\n\r\n'.encode() + file[1] + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self._send("POST", url, body, f"multipart/form-data; boundary={boundary}")



class Web:
    """A real server's web app, as a signed-in user's browser sends its forms. It names
    nodes by number: the test looks the number up in the database, as the page links it."""

    name = "web"
    offers = frozenset({"read", "overwrite", "deposit", "mkdir", "rename", "move", "delete"})

    def __init__(self, base_url: str, password: str, db: Database) -> None:
        self.base_url, self.password, self.db = base_url, password, db
        self.browsers: dict[str, Browser] = {}

    def _browser(self, login: str) -> Browser:
        if login not in self.browsers:
            self.browsers[login] = Browser(self.base_url, login, self.password)
        return self.browsers[login]

    def _id(self, path: str) -> int:
        company, *names = path.split("/")
        with self.db.session() as session:
            found = session.scalars(select(Company).where(Company.folder_name == company)).one()
            location = store.resolve(session, found, names)
            assert location is not None, path
            return location.node.id

    def _post(self, login: str, url: str, fields: dict[str, str], file=None) -> str:
        return _http_outcome(*self._browser(login).post(url, fields, file))

    def read(self, login: str, path: str) -> str:
        return _http_outcome(*self._browser(login).get(f"/telecharger/{self._id(path)}"))

    def overwrite(self, login: str, path: str) -> str:
        return self.deposit(login, *_parent(path))

    def deposit(self, login: str, folder: str, name: str) -> str:
        return self._post(login, f"/dossier/{self._id(folder)}/deposer", {}, (name, BODY))

    def mkdir(self, login: str, folder: str, name: str) -> str:
        return self._post(login, f"/dossier/{self._id(folder)}/creer", {"name": name})

    def rename(self, login: str, path: str, new_name: str) -> str:
        return self._post(login, f"/element/{self._id(path)}/renommer", {"name": new_name})

    def move(self, login: str, path: str, folder: str) -> str:
        return self._post(login, f"/element/{self._id(path)}/deplacer",
                          {"destination": str(self._id(folder))})

    def delete(self, login: str, path: str) -> str:
        return self._post(login, f"/element/{self._id(path)}/supprimer", {})


class Command:
    """The `liasse document` command, run in-process as `--as LOGIN`."""

    name = "cli"
    offers = frozenset({"move", "copy"})

    def __init__(self, settings_path: Path) -> None:
        self.settings_path = settings_path

    def _run(self, login: str, *argv: str) -> str:
        from liasse.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(self.settings_path), "--as", login, *argv])
        assert code in (0, 1) and "inattendue" not in err.getvalue(), (code, err.getvalue())
        if code == 0:
            return DONE
        return HIDDEN if "introuvable" in err.getvalue() else REFUSED

    def move(self, login: str, path: str, folder: str) -> str:
        return self._run(login, "document", "move", path, folder)

    def copy(self, login: str, path: str, folder: str, name: str) -> str:
        return self._run(login, "document", "copy", path, folder, "--name", name)
