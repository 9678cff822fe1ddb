"""MLflow SharingHub for MLflow 3: per-project tracking and registry behind catalog permissions.

``mlflow server --app-name sharinghub`` loads :func:`mlops_server.tracking.app.create_app`, an
ASGI app that sees every request before MLflow does. It takes the project from the URL prefix
(``/<project path>/tracking/...``), asks the catalog's check API for the caller's access level,
enforces upstream mlflow-sharinghub's conventions (name suffix `` (<project id>)``, server-set
``project`` tag) and denies every route it does not know.

Registered models reach the catalog's STAC items by *pull*: the catalog asks MLflow through
the project tracking URI, as the caller, when it serves an item (:mod:`.stac`).
"""
