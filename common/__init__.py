"""What every app of the site needs and no app owns: request ids and log formatting (logging), the caller's
address and bearer header (http), the "retry later" answer in the caller's format (errors) and the database
outage answer (availability). Imports Django only, never an app of ours: apps import this, not each other."""
