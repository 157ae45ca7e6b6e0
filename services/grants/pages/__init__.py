"""The applicants' grant pages (``/apply/grants/``): the files they may read, and for the
coordinator the steps: confirm the data, sign, or decline. Views call the API's handlers
with the signed-in applicant as the principal. See the service README, "Pages"."""
