import pytest

from shebao.land_subsidy.tests.factories import make_user


@pytest.fixture
def clerk(db):
    """The 土保补贴 clerk the page tests sign in as."""
    return make_user("tbclerk")
