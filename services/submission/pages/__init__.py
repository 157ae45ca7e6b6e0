"""The applicants' pages (``/apply/``): sign-in, proposals, parts, the eligibility
pre-check, submission and receipts, versions, withdrawal. Views call the same handlers
as the JSON API (``services/submission/handlers``) with the signed-in applicant as the
principal; forms load with the API's schemas. See the service README, "Pages"."""
