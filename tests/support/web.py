"""The web app through Flask's test client: a signed-in visitor (`Visitor`), and the
fixtures of the web tests (`app`, `visit`), registered by tests/integration/conftest.py."""

from __future__ import annotations

import html
import io
import re

import pytest

from invoicing_web.app import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Visitor:
    """A browser session: signs in through the form and sends the CSRF token it was given."""

    def __init__(self, app, login: str, password: str) -> None:
        self.client = app.test_client()
        self.answers: list = []
        token = TOKEN.search(self.client.get("/connexion").get_data(as_text=True)).group(1)
        answer = self.client.post("/connexion", data={"login": login, "password": password,
                                                      "csrf_token": token})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        page = self.client.get("/tableau-de-bord").get_data(as_text=True)
        self.token = TOKEN.search(page).group(1)

    def get(self, url: str, **kwargs):
        return self._kept(self.client.get(url, **kwargs))

    def page(self, url: str) -> str:
        answer = self.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        return html.unescape(answer.get_data(as_text=True))

    def post(self, url: str, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self._kept(self.client.post(url, data=data, **kwargs))

    def _kept(self, answer):
        self.answers.append(answer)  # closed at the end: that closes the request bodies
        return answer

    def close(self) -> None:
        for answer in self.answers:
            answer.close()
            # the test client spools a large request body to a temporary file
            answer.request.environ["wsgi.input"].close()

    def upload(self, folder_id: int, *files: tuple[str, bytes], **kwargs):
        return self.post(f"/dossier/{folder_id}/deposer",
                         {"files": [(io.BytesIO(body), name) for name, body in files]},
                         content_type="multipart/form-data", **kwargs)


def text_of(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


@pytest.fixture
def app(settings, demo):
    return create_app(settings, demo, secure_cookies=False)


@pytest.fixture
def visitors():
    opened: list[Visitor] = []
    yield opened
    for visitor in opened:
        visitor.close()


@pytest.fixture
def visit(app, demo_password, visitors):
    def sign_in(login: str, on=None) -> Visitor:
        visitor = Visitor(on or app, login, demo_password)
        visitors.append(visitor)
        return visitor

    return sign_in


