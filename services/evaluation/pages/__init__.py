"""The evaluators' pages (``/review/``: sign-in, my assignments, a proposal, conflict,
decline, the scoring form, the rapporteur's consensus form) and the applicants' results
page (``/apply/results/<id>``: outcome and evaluation summary report). Views call the
handlers of the JSON API with the signed-in person as the principal. See the service
README, "Pages"."""
