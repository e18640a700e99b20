"""The Stripe protocol layer: everything that speaks Stripe's REST API, nothing of Airflow.

Its only tie to Airflow is :mod:`airflow_provider_stripe.exceptions`, whose errors subclass
Airflow's so that a task fails at once or retries as the error deserves.

One module per concern:

- :mod:`.transport`: the HTTP session, base-URL, proxy and loopback rules, the request watchdog;
- :mod:`.client`: :class:`~.client.StripeClient`, one request, its errors and the key's redaction;
- :mod:`.retries`: which failures retry, how long each retry waits, when to give up;
- :mod:`.pacing`: adaptive rate limiting, shared by a client's threads;
- :mod:`.responses`: what a success body must look like;
- :mod:`.encoding`: form encoding, object paths, endpoint names;
- :mod:`.pagination`: list, search and chained iterators;
- :mod:`.parallel`: one list over ``created`` windows by many threads;
- :mod:`.embedded`: embedded lists paged to their end;
- :mod:`.changes`: change capture from events;
- :mod:`.registry`: the table of Stripe objects;
- :mod:`.params`: checks of every parameter before a request.
"""
