"""Passwords are Argon2id at production's cost; the tests' cheaper hasher makes the same kind of hash."""

import importlib

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, identify_hasher

from shebao.accounts.tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_production_hashes_with_argon2_at_its_full_cost():
    production = importlib.import_module("config.settings")
    assert production.PASSWORD_HASHERS == ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hasher = Argon2PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 102400, 8)


def test_a_test_users_password_is_an_argon2id_hash_that_production_verifies():
    user = make_user("hashcheck")
    assert user.password.startswith("argon2$argon2id$")
    assert Argon2PasswordHasher().verify(PASSWORD, user.password)
    assert not Argon2PasswordHasher().verify("wrong" + PASSWORD, user.password)


def test_a_full_cost_hash_verifies_and_signs_in():
    from django.test import Client

    user = make_user("fullcost")
    user.password = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])
    assert "m=102400,t=2,p=8" in user.password and identify_hasher(user.password).algorithm == "argon2"
    assert check_password(PASSWORD, user.password)
    client = Client()
    assert client.post("/accounts/login/", {"username": "fullcost", "password": PASSWORD}).status_code == 302
