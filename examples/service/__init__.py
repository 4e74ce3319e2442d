"""An example service on omnimsg: a FastAPI app and a Celery worker sharing PostgreSQL.

- :mod:`service.app`: the HTTP API (``create_app(settings)``): contacts, the inbound
  webhook, "may I send this?", and broadcasts planned and queued;
- :mod:`service.worker`: the Celery app the workers run (``celery -A service.worker``);
- :mod:`service.settings`: every setting, read from the environment at the edge;
- :mod:`service.database`: the service's tables and omnimsg's PostgreSQL store;
- :mod:`service.transports`: the transports the workers send through.

Run it as examples/service/README.md says; docs/integrations.md explains the design.
"""
