from shebao.accounts.tests.factories import clerk_all, clerk_hushan, clerk_sensitive  # noqa: F401
