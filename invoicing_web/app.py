"""Application factory: `create_app(settings, db)`."""

from __future__ import annotations

from flask import Flask, render_template

from acl.db import Database
from acl.models import Cabinet
from config.settings import Settings


def create_app(settings: Settings, db: Database) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.security.session_secret or None

    @app.get("/")
    def home():
        with db.session() as session:
            cabinet = session.get(Cabinet, 1)
            name = cabinet.name if cabinet else "Liasse"
            colour = cabinet.colour if cabinet else "#1f4e79"
        return render_template("home.html", cabinet_name=name, colour=colour)

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("error.html", message="Page introuvable."), 404

    @app.errorhandler(500)
    def internal_error(_error):
        return render_template("error.html", message="Erreur interne : l'incident est "
                                                     "consigné dans le journal."), 500

    return app
