"""The tests' password hasher: Argon2id, the production algorithm and format, at the smallest cost.

Production (``config.settings``) hashes with Django's ``Argon2PasswordHasher`` (time 2, 100 MiB,
8 lanes): about 0.15 s of CPU per hash and per check. The suite makes thousands of users (each with
a password, as the admin pages make them), which cost minutes of CI at that price. The hashes made
here are real Argon2id hashes that the production hasher verifies (the parameters travel in the
hash); ``shebao/accounts/tests/test_password_hashing.py`` checks that production keeps its cost."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64  # KiB
    parallelism = 1
