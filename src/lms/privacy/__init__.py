"""Personal data (GDPR): a person's data exported as a zip by a background job, and erasure that
anonymises the person while aggregate statistics stay."""
