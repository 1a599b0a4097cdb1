"""The web interface: one blueprint per role (the officials' work in drafting, sending, uploads and accessions)."""


def register(app):
    from . import (
        accessions,
        admin,
        api,
        archive,
        auth,
        drafting,
        home,
        notices,
        operations,
        security,
        sending,
        sign,
        uploads,
        verify,
    )

    app.register_blueprint(operations.bp)  # first: the request id and timing wrap everything
    app.register_blueprint(auth.bp)  # first, so error pages know who is logged in
    app.register_blueprint(home.bp)
    app.register_blueprint(drafting.bp)
    app.register_blueprint(sending.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(accessions.bp)
    app.register_blueprint(sign.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(archive.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(admin.bp)
    security.init_app(app)
    security.csrf.exempt(api.bp)  # the API authenticates by bearer token, not by cookie
