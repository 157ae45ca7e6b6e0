"""People's own pages: what every service that serves HTML to applicants and evaluators
shares.

- :mod:`.audiences`: who the pages are for (``/apply/`` applicants, ``/review/``
  evaluators), which service signs them in, and each service's URL space;
- :mod:`.settings`: lifetimes, cookie security and public addresses from the config;
- :mod:`.signin`: single-use sign-in links (minted by notifications for the mail, checked
  and used once by the signing service) and the sign-in commands;
- :mod:`.sessions`: the signed session cookie a link is exchanged for;
- :mod:`.csrf`: the token every form carries;
- :mod:`.tables`: the two small tables a signing service keeps (used links, requests);
- :mod:`.i18n` and :mod:`.rendering`: Jinja2 with the Babel message catalogue
  (``locale/messages.pot``), the layout, dates in the call's zone and the viewer's;
- :mod:`.route`: ``@page(...)``, the entrypoint for HTML routes (sessions, CSRF, strict
  CSP, errors as pages) built on ``shared.web``'s ``@api``.

See ``shared/pages/README.md`` for the design (sessions across services, sign-out, what
each service serves).
"""
